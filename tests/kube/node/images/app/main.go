// Command app-client is the real-node tests' application: it reads its
// database credential from the environment once, at start (as an
// application given the Secret as env does), then logs in anew every
// 100 ms until it is stopped, counting the logins that succeed and fail.
//
// The counts go to $COUNT_DIR/$POD_NAME.$POD_UID.json (a hostPath the test
// reads; the uid tells apart a StatefulSet's pods of one name),
// rewritten every second, at once after a failure, and when SIGTERM
// arrives, so a pod that is replaced during a rollout leaves its final
// count behind. Each failure is printed to stdout too (the container log).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

type counts struct {
	Pod       string `json:"pod"`
	User      string `json:"user"`
	Started   int64  `json:"started_unix_ms"`
	Updated   int64  `json:"updated_unix_ms"`
	Ok        uint64 `json:"ok"`
	Failed    uint64 `json:"failed"`
	LastError string `json:"last_error,omitempty"`
	Stopped   bool   `json:"stopped"`
}

func main() {
	need := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			fmt.Fprintf(os.Stderr, "app-client: %s is not set\n", name)
			os.Exit(2)
		}
		return v
	}
	// Read once: a running process keeps the credential it started with.
	user, password := need("PGUSER"), need("PGPASSWORD")
	conn := fmt.Sprintf("host=%s port=%s dbname=%s sslmode=disable connect_timeout=2",
		need("PGHOST"), need("PGPORT"), need("PGDATABASE"))
	config, err := pgconn.ParseConfig(conn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "app-client: %v\n", err)
		os.Exit(2)
	}
	config.User, config.Password = user, password
	out := filepath.Join(need("COUNT_DIR"), need("POD_NAME")+"."+need("POD_UID")+".json")

	c := counts{Pod: os.Getenv("POD_NAME"), User: user, Started: time.Now().UnixMilli()}
	save := func() {
		c.Updated = time.Now().UnixMilli()
		data, _ := json.Marshal(c)
		tmp := out + ".tmp"
		err := os.WriteFile(tmp, data, 0o644)
		if err == nil {
			err = os.Rename(tmp, out)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "app-client: cannot write %s: %v\n", out, err)
		}
	}
	save()
	fmt.Printf("app-client: logging in as %s every 100 ms\n", user)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(100 * time.Millisecond)
	lastSave := time.Now()
	for {
		select {
		case <-stop:
			c.Stopped = true
			save()
			fmt.Printf("app-client: stopped after %d logins, %d failed\n", c.Ok, c.Failed)
			return
		case <-tick.C:
		}
		if err := login(config); err != nil {
			c.Failed++
			c.LastError = err.Error()
			fmt.Printf("app-client: login as %s failed: %v\n", user, err)
			save()
			lastSave = time.Now()
			continue
		}
		c.Ok++
		if time.Since(lastSave) >= time.Second {
			save()
			lastSave = time.Now()
		}
	}
}

// login opens a new session, runs one query and closes it.
func login(config *pgconn.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, config)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
	return err
}
