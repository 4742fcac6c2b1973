// Command pause is the pod sandbox's only process: it holds the pod's
// namespaces open and does nothing else until it is told to stop. It is the
// test node's own build of what registry.k8s.io/pause is, so containerd needs
// no registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
