#!/usr/bin/env bash
# Makes what a remote berthd with mutual TLS needs, with openssl (as docker's "Protect the Docker
# daemon socket" guide): a CA, a server certificate for the daemon's names/addresses and a
# client certificate, all signed by that CA. ECDSA P-256 keys (quick handshakes).
#
#   scripts/tls-certs.sh DIR [NAME_OR_IP ...]     (default names: localhost 127.0.0.1)
#
# DIR gets:
#   ca.pem ca-key.pem                the CA (keep ca-key.pem offline: it can sign new clients)
#   server-cert.pem server-key.pem   for berthd --tlscert/--tlskey (--tlscacert ca.pem)
#   ca.pem cert.pem key.pem          the client's set: copy them to the client's ~/.berth (or
#                                    ~/.docker) or point DOCKER_CERT_PATH at a copy
# Environment: DAYS (validity, default 365), CLIENT_CN (default "client").
set -euo pipefail

dir=${1:?usage: $0 DIR [NAME_OR_IP ...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1)
days=${DAYS:-365}
mkdir -p "$dir"
cd "$dir"
umask 077

san=""
for n in "${names[@]}"; do
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
san=${san%,}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca-key.pem
openssl req -new -x509 -sha256 -days "$days" -key ca-key.pem -out ca.pem \
  -subj "/CN=berth CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

sign() { # CSR_SUBJECT KEY OUT EXTFILE
  openssl req -new -sha256 -key "$2" -subj "$1" -out "$3.csr"
  openssl x509 -req -sha256 -days "$days" -in "$3.csr" -CA ca.pem -CAkey ca-key.pem \
    -CAcreateserial -out "$3" -extfile "$4" 2>/dev/null
  rm -f "$3.csr" "$4"
}

key server-key.pem
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san" >server.ext
sign "/CN=${names[0]}" server-key.pem server-cert.pem server.ext

key key.pem
printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >client.ext
sign "/CN=${CLIENT_CN:-client}" key.pem cert.pem client.ext

rm -f ca.srl
chmod 0444 ca.pem server-cert.pem cert.pem
echo "made in $dir: ca.pem ca-key.pem server-cert.pem server-key.pem cert.pem key.pem (for ${names[*]})"
