#!/usr/bin/env bash
# A local certificate authority and a server certificate for development and tests:
#   tools/setup/dev-ca.sh DIR [HOSTNAME|IP ...]      (default names: localhost 127.0.0.1)
# writes into DIR (created, mode 700):
#   ca.key ca.crt           the CA (EC P-256, 10 years); clients trust ca.crt (AWS_CA_BUNDLE)
#   server.key server.crt   the server's key and certificate (EC P-256, 825 days), signed by
#                           the CA, with every name as a subjectAltName (DNS or IP)
#   server.san              the subjectAltName it was made with (to compare on a rerun)
# Idempotent: files that are present, valid for 30 more days, matching their keys, and (for
# the server) signed by the CA and naming exactly the requested names are kept; anything else
# is made again (a new CA also renews the server certificate). Needs the openssl command.
set -euo pipefail

usage() {
	echo "usage: $0 DIR [HOSTNAME|IP ...]" >&2
	exit 2
}
(($# >= 1)) || usage
dir=$1
shift
names=("$@")
((${#names[@]} > 0)) || names=(localhost 127.0.0.1)

CA_DAYS=3650
SERVER_DAYS=825 # the longest validity Apple's clients accept
MIN_LEFT_S=$((30 * 24 * 3600))

# subjectAltName value for the names, in the order given: IP:x for addresses, DNS:x otherwise.
san=""
for n in "${names[@]}"; do
	if [[ $n =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ || $n == *:* ]]; then
		san+="${san:+,}IP:$n"
	elif [[ $n =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
		san+="${san:+,}DNS:$n"
	else
		echo "dev-ca: not a host name or IP address: $n" >&2
		exit 2
	fi
done

mkdir -p "$dir"
chmod 700 "$dir"
umask 077

# Is $1 a certificate valid for MIN_LEFT_S more seconds whose public key is that of key $2?
cert_ok() {
	[[ -s $1 && -s $2 ]] || return 1
	openssl x509 -in "$1" -noout -checkend "$MIN_LEFT_S" >/dev/null 2>&1 || return 1
	[[ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" == \
		"$(openssl pkey -in "$2" -pubout 2>/dev/null)" ]]
}

new_ca=0
if ! cert_ok "$dir/ca.crt" "$dir/ca.key"; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key.tmp"
	openssl req -x509 -new -key "$dir/ca.key.tmp" -sha256 -days "$CA_DAYS" \
		-subj "/O=Spate development/CN=Spate development CA $(hostname -s 2>/dev/null || echo)" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$dir/ca.crt.tmp"
	mv "$dir/ca.key.tmp" "$dir/ca.key"
	chmod 644 "$dir/ca.crt.tmp"
	mv "$dir/ca.crt.tmp" "$dir/ca.crt"
	new_ca=1
	echo "dev-ca: made CA $dir/ca.crt"
fi

if ((new_ca == 0)) && cert_ok "$dir/server.crt" "$dir/server.key" &&
	openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null 2>&1 &&
	[[ -f $dir/server.san && "$(cat "$dir/server.san")" == "$san" ]]; then
	echo "dev-ca: kept $dir/server.crt ($san)"
	exit 0
fi

ext=$(mktemp "$dir/ext.XXXXXX")
trap 'rm -f "$ext" "$dir/server.csr.tmp"' EXIT
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key.tmp"
openssl req -new -key "$dir/server.key.tmp" -subj "/O=Spate development/CN=${names[0]}" \
	-out "$dir/server.csr.tmp"
openssl x509 -req -in "$dir/server.csr.tmp" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$SERVER_DAYS" -extfile "$ext" \
	-out "$dir/server.crt.tmp" 2>/dev/null
mv "$dir/server.key.tmp" "$dir/server.key"
chmod 644 "$dir/server.crt.tmp"
mv "$dir/server.crt.tmp" "$dir/server.crt"
echo "$san" >"$dir/server.san"
chmod 644 "$dir/server.san"
echo "dev-ca: made $dir/server.crt ($san)"
