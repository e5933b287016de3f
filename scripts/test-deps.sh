#!/bin/bash
# test-deps.sh — install what simboard's tests need, when it is missing.
#
#   scripts/test-deps.sh          install missing packages when root; otherwise explain and exit 0
#   scripts/test-deps.sh --check  only report what is missing (exit 0)
#
# Packages (reference: ../shared/reference/testenv.md §1):
#   postfix dovecot-core dovecot-pop3d   real SMTP and POP3 servers for tests/interop
#   tshark tcpdump                       capture and decode (tshark -Y smtp / pop)
#   iputils-ping                         the host pings the board on its TAP (netstack tests)
#   iproute2                             ip netns, ip tuntap
#   dnsmasq-base chrony                  DHCP+DNS and NTP peers of the board's firmware boot (tests/interop/netboot_test.go)
#   swaks libnet-ssleay-perl             hand checks of the mail servers (testenv.md, not used by go test)
#   gcc libc6-dev                        go test -race needs cgo
#   make ca-certificates                 the test command itself, module downloads
#
# Debconf is preseeded (Postfix "No configuration", no setuid dumpcap, no man-db rebuild) and
# services are kept from starting during the install (policy-rc.d exit 101), so nothing listens
# in the host namespace. When SIMBOARD_REQUIRE_NETNS=1 (CI), a missing package that cannot be
# installed is an error; otherwise it is a notice and the tests that need it skip with the reason.
set -euo pipefail

PKGS=(postfix dovecot-core dovecot-pop3d tshark tcpdump iproute2 iputils-ping swaks libnet-ssleay-perl
      dnsmasq-base chrony gcc libc6-dev make ca-certificates)

check_only=false
[[ ${1:-} == --check ]] && check_only=true

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "test-deps: all test packages present"
  exit 0
fi

if $check_only; then
  echo "test-deps: missing: ${missing[*]}"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "test-deps: not root; not installing: ${missing[*]}"
  echo "test-deps: interop and TAP tests will skip (run 'sudo scripts/test-deps.sh' to install)"
  if [[ ${SIMBOARD_REQUIRE_NETNS:-} == 1 ]]; then
    echo "test-deps: SIMBOARD_REQUIRE_NETNS=1 but packages are missing" >&2
    exit 1
  fi
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "test-deps: no apt-get; install by hand: ${missing[*]}" >&2
  [[ ${SIMBOARD_REQUIRE_NETNS:-} == 1 ]] && exit 1
  exit 0
fi

echo "test-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
printf '%s\n' \
  'postfix postfix/main_mailer_type select No configuration' \
  'postfix postfix/mailname string localhost' \
  'wireshark-common wireshark-common/install-setuid boolean false' \
  'man-db man-db/auto-update boolean false' | debconf-set-selections

# Keep package scripts from starting dovecot/postfix in the host namespace (systemd runners
# would otherwise start dovecot on 0.0.0.0:110). Only add our policy if there is none.
policy=/usr/sbin/policy-rc.d
ours=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# simboard test-deps: no service starts during install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  ours=true
fi
cleanup() { if $ours; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0 -q)
start=$SECONDS
# apt-get update once (the lists may be stale on a fresh machine; 'install' alone can 404).
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
echo "test-deps: installed in $((SECONDS - start)) s"

# On a systemd machine the packages enable their units; make sure nothing runs on the host.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  systemctl disable --now dovecot.service dovecot.socket postfix.service chrony.service >/dev/null 2>&1 || true
fi
