#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/radicale ] || need+=(radicale)
[ -x /usr/bin/xandikos ] || need+=(xandikos)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/pdudaemon ] || need+=(pdudaemon)
command -v socat >/dev/null 2>&1 || need+=(socat)
# The completion tests run the generated scripts in real bash and zsh.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
# The board-access driver sets ACLs on device nodes with the real setfacl/getfacl.
command -v setfacl >/dev/null 2>&1 || need+=(acl)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The usbip holder-only tests put real nftables rules in place (in a private network namespace).
[ -x /usr/sbin/nft ] || need+=(nftables)
# Real password logins (PAM) against the namespaced sshd.
command -v sshpass >/dev/null 2>&1 || need+=(sshpass)
# The feed tests check our iCalendar with a parser that is not ours.
/usr/bin/python3 -c "import icalendar" >/dev/null 2>&1 || need+=(python3-icalendar)
# Recurring bookings are read back as a CalDAV client does (test/e2e/recurring-caldav.test.ts).
/usr/bin/python3 -c "import caldav, recurring_ical_events" >/dev/null 2>&1 || need+=(python3-caldav python3-recurring-ical-events)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Debian packages start daemons of their own; tests start their own instances.
for svc in mosquitto radicale ssh pdudaemon; do
  (systemctl stop "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true) >/dev/null 2>&1
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

mkdir -p test-artifacts
rm -f test-artifacts/vitest-node.json test-artifacts/vitest-workers.json
npx tsc --noEmit -p tsconfig.json
# Tests never leave anything on the machine itself (the hog's files, sshd's privilege separation folder
# the hog makes when missing, motd lines): what was absent or empty before the runs must be so after them.
host_state() {
  for p in /run/sshd /run/labhog /etc/motd.d /etc/ssh/sshd_config.d; do
    if [ -e "$p" ]; then echo "$p: $(ls -A "$p" | tr '\n' ' ')"; else echo "$p: (absent)"; fi
  done
}
host_before=$(host_state)
# Nor in the temporary folder: tests remove what they make there (test/temp-dirs.setup.ts); a labhog-* folder
# that was not there before the runs is one a test left behind.
tmp_state() { ls -d "${TMPDIR:-/tmp}"/labhog-* 2>/dev/null | sort || true; }
tmp_before=$(tmp_state)
# Both runs always run, so one failing run still reports the other; the closing line decides.
node_rc=0
workers_rc=0
npx vitest run --config test/vitest.node.config.mts --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest-node.json || node_rc=$?
npx vitest run --config test/vitest.workers.config.mts --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest-workers.json || workers_rc=$?
host_after=$(host_state)
host_rc=0
if [ "$host_before" != "$host_after" ]; then
  echo "tests changed the machine itself (before → after):" >&2
  diff <(echo "$host_before") <(echo "$host_after") >&2 || true
  host_rc=1
fi
tmp_left=$(comm -13 <(echo "$tmp_before") <(tmp_state))
if [ -n "$tmp_left" ]; then
  echo "tests left temporary folders behind:" >&2
  echo "$tmp_left" >&2
  host_rc=1
fi
# The closing lines for both runs (Node and workerd): each failed test by name, then the count.
NODE_RC=$node_rc WORKERS_RC=$workers_rc HOST_RC=$host_rc node scripts/test-summary.mjs test-artifacts/vitest-node.json test-artifacts/vitest-workers.json
