"""Drives the Key Vault fake (tests/support/keyvault) with Azure's own
Python SDK, azure-keyvault-secrets and azure-identity, which Azure writes
against the real service: what they accept from the fake, the real service
must be able to say too. Started by tests/azure_sdk.rs, one scenario a run:

    python driver.py SCENARIO

with the vault and its test CA in SEESAW_VAULT_URL and SEESAW_CA_FILE, the
fake's CONNECT proxy in HTTPS_PROXY, workload identity in AZURE_TENANT_ID,
AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, and for the token scenarios
the tokens to hand out in SEESAW_TOKENS (comma-separated) and when the first
expires in SEESAW_EXPIRES_AT (Unix seconds). It prints one
JSON object: the steps (each call's result or error as the SDK reports it)
and every HTTP answer the SDK's pipeline saw, retries and challenges
included. The Rust test asserts on it; this script asserts nothing.
"""

import inspect
import json
import os
import sys
import threading
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.identity import WorkloadIdentityCredential
from azure.keyvault.secrets import ApiVersion, SecretClient

VAULT = os.environ["SEESAW_VAULT_URL"]
CA = os.environ["SEESAW_CA_FILE"]
HEADERS = ["content-type", "www-authenticate", "retry-after", "x-ms-keyvault-region",
           "x-ms-keyvault-service-version", "x-ms-keyvault-network-info", "x-ms-request-id"]

answers = []  # (method, path, status, selected headers) of every response
steps = []


def hook(response):
    http = response.http_response
    request = http.request
    path = request.url.split(".vault.azure.net", 1)[-1]
    headers = {h: http.headers[h] for h in HEADERS if h in http.headers}
    answers.append({"method": request.method, "path": path,
                    "status": http.status_code, "headers": headers})


class StaticTokens:
    """Hands out SEESAW_TOKENS in turn, each claimed valid for an hour, as a
    credential whose cached token the service no longer accepts would."""

    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.calls = 0

    def get_token(self, *scopes, **kwargs):
        token = self.tokens[min(self.calls, len(self.tokens) - 1)]
        self.calls += 1
        return AccessToken(token, int(time.time()) + 3600)


def client(credential=None, **kwargs):
    if credential is None:
        credential = WorkloadIdentityCredential(connection_verify=CA)
    return SecretClient(VAULT, credential, connection_verify=CA,
                        raw_response_hook=hook, **kwargs)


def props(p):
    return {"version": p.version, "enabled": p.enabled, "tags": p.tags,
            "content_type": p.content_type,
            "created": p.created_on.timestamp() if p.created_on else None,
            "updated": p.updated_on.timestamp() if p.updated_on else None,
            "not_before": p.not_before.timestamp() if p.not_before else None,
            "expires": p.expires_on.timestamp() if p.expires_on else None}


def step(op, call):
    """Runs `call`; records its result, or the error as the SDK raised it
    (its class, status, and the error body's code and inner code)."""
    started = time.monotonic()
    entry = {"op": op}
    try:
        entry.update(ok=True, result=call())
    except HttpResponseError as e:
        body = {}
        try:
            body = e.response.json().get("error", {})
        except Exception:  # an answer that is not Key Vault's JSON
            pass
        entry.update(ok=False, error=type(e).__name__, status=e.status_code,
                     code=body.get("code"), inner=(body.get("innererror") or {}).get("code"),
                     message=body.get("message"))
    entry["seconds"] = time.monotonic() - started
    steps.append(entry)


def secret(s):
    return {"value": s.value, **props(s.properties)}


def crud(c):
    name = "crud"
    step("set v1", lambda: secret(c.set_secret(name, "value-1", content_type="text/plain",
                                               tags={"a": "1"})))
    step("set v2", lambda: secret(c.set_secret(name, "value-2")))
    v1, v2 = (s["result"]["version"] for s in steps[:2])
    step("get latest", lambda: secret(c.get_secret(name)))
    step("get v1", lambda: secret(c.get_secret(name, v1)))
    step("list versions", lambda: [props(p) for p in
                                   c.list_properties_of_secret_versions(name, max_page_size=1)])
    step("disable v1", lambda: props(c.update_secret_properties(
        name, v1, enabled=False, tags={"b": "2"}, content_type="application/json")))
    step("get disabled v1", lambda: secret(c.get_secret(name, v1)))
    step("list after disable", lambda: [props(p) for p in
                                        c.list_properties_of_secret_versions(name)])
    step("update latest", lambda: props(c.update_secret_properties(name, tags={"c": "3"})))
    step("disable latest", lambda: props(c.update_secret_properties(name, v2, enabled=False)))
    step("get disabled latest", lambda: secret(c.get_secret(name)))
    step("enable v1", lambda: props(c.update_secret_properties(name, v1, enabled=True)))
    step("get enabled v1", lambda: secret(c.get_secret(name, v1)))
    step("set disabled with dates", lambda: secret(c.set_secret(
        "born-disabled", "x", enabled=False, not_before=_at(1422864000),
        expires_on=_at(2527401600))))
    step("get born disabled", lambda: secret(c.get_secret("born-disabled")))


def _at(seconds):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(seconds, timezone.utc)


def missing(c):
    c.set_secret("present", "x")
    step("get missing secret", lambda: secret(c.get_secret("absent")))
    step("get missing version", lambda: secret(c.get_secret("present", "0" * 32)))
    step("update missing version", lambda: props(c.update_secret_properties(
        "present", "0" * 32, enabled=False)))
    step("list missing secret", lambda: [props(p) for p in
                                         c.list_properties_of_secret_versions("absent")])


def paging(c):
    for n in range(27):
        c.set_secret("many", f"v{n}")
    step("list default pages", lambda: [props(p) for p in
                                        c.list_properties_of_secret_versions("many")])
    step("list pages of 10", lambda: [props(p) for p in
                                      c.list_properties_of_secret_versions("many", max_page_size=10)])


def get(c):
    version = os.environ.get("SEESAW_VERSION")
    step("get", lambda: secret(c.get_secret(os.environ["SEESAW_SECRET"], version)))


def expiring(tokens):
    """The first token expires while the client still holds it: the next
    call is refused with a challenge, and the SDK asks for a new token."""
    credential = StaticTokens(tokens)
    c = client(credential)
    name = os.environ["SEESAW_SECRET"]
    step("get with a fresh token", lambda: secret(c.get_secret(name)))
    time.sleep(max(0.0, float(os.environ["SEESAW_EXPIRES_AT"]) + 1 - time.time()))
    step("get after it expired", lambda: secret(c.get_secret(name)))
    step("token requests", lambda: credential.calls)


def refused(tokens):
    c = client(StaticTokens(tokens))
    step("get", lambda: secret(c.get_secret(os.environ["SEESAW_SECRET"])))


def concurrent(c):
    """Two writers at once: Key Vault's set has no precondition (the SDK
    offers none to send), so every write lands as its own version."""
    others = client()

    def writes(cl, who):
        for n in range(5):
            cl.set_secret("shared", f"{who}-{n}")

    threads = [threading.Thread(target=writes, args=(cl, who))
               for cl, who in [(c, "a"), (others, "b")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    step("versions", lambda: len(list(c.list_properties_of_secret_versions("shared"))))
    conditional = {"etag", "if_match", "match_condition", "if_none_match"}
    step("conditional parameters", lambda: sorted(
        p for m in (SecretClient.set_secret, SecretClient.update_secret_properties)
        for p in inspect.signature(m).parameters if p in conditional))


def api_versions(_):
    c = client()
    c.set_secret("versions", "x")
    for v in ApiVersion:
        step(v.value, lambda v=v: client(api_version=v.value).get_secret("versions").value)
    step("default", lambda: SecretClient(VAULT, object()).api_version)


def main():
    scenario = sys.argv[1]
    tokens = [t for t in os.environ.get("SEESAW_TOKENS", "").split(",") if t]
    if scenario == "expiring":
        expiring(tokens)
    elif scenario == "refused":
        refused(tokens)
    else:
        {"crud": crud, "missing": missing, "paging": paging, "get": get,
         "concurrent": concurrent, "api_versions": api_versions}[scenario](client())
    json.dump({"scenario": scenario, "steps": steps, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    main()
