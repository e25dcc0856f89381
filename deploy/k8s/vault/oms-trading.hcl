# Vault (or OpenBao) policy of the trading pod: the venue keys under secret/exchanges/ (KV v2) and nothing
# else; create/update because key rotation (oms/secrets) writes the new key with check-and-set. Bound to the ServiceAccount oms/oms-trading by the Kubernetes auth role (docs/deploy.md):
#   vault policy write oms-trading deploy/k8s/vault/oms-trading.hcl
#   vault write auth/kubernetes/role/oms-trading bound_service_account_names=oms-trading \
#       bound_service_account_namespaces=oms policies=oms-trading ttl=1h
path "secret/data/exchanges/*" {
  capabilities = ["read", "create", "update"]
}
path "secret/metadata/exchanges/*" {
  capabilities = ["read", "list"]
}
