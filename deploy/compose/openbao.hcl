# OpenBao for compose.yaml: file storage, initialised and unsealed once by hand (docs/deploy.md).
ui = false
disable_mlock = false
storage "file" {
  path = "/openbao/data"
}
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true  # only reachable on the compose network; put TLS in front for anything else
}
api_addr = "http://openbao:8200"
