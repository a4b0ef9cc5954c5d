#!/usr/bin/env bash
# A two-host libvirt lab on one machine: two libvirtd daemons (hosts "a" and "b"), each in
# its own private mount namespace with its own host_uuid, config, state and socket, so that
# QEMU/KVM guests can be live-migrated between them. Nothing outside the lab directory is
# configured, except the system user/groups the QEMU driver insists on looking up.
#
# Usage: scripts/libvirt-lab.sh start|stop|status
#   start   create users/dirs/config, start both daemons (idempotent), print their URIs
#   stop    destroy and undefine every guest of the lab, stop both daemons, remove images
#   status  say what runs and print the URIs
#
# Needs root and the Debian packages libvirt-daemon, libvirt-daemon-driver-qemu,
# libvirt-clients, qemu-system-x86 (installed elsewhere; this script installs nothing).
# FLEETWISE_LAB_DIR overrides the lab directory (default /var/tmp/fleetwise-lab).
set -euo pipefail

LAB="${FLEETWISE_LAB_DIR:-/var/tmp/fleetwise-lab}"
HOSTS=(a b)
declare -A HOST_UUID=([a]="11111111-1111-4111-8111-111111111111"
                      [b]="22222222-2222-4222-8222-222222222222")
declare -A PORT_MIN=([a]=49152 [b]=49252)
declare -A PORT_MAX=([a]=49215 [b]=49315)
# Host b runs without cgroups: two daemons must not create clashing cgroups for the
# incoming and outgoing copy of a guest during a migration.
declare -A CGROUPS=([a]="" [b]="cgroup_controllers = [ ]")
# System directories each daemon sees replaced by its own copy (lab subdir:system dir).
BINDS=(etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt
       cache:/var/cache/libvirt)

die() { echo "libvirt-lab: $*" >&2; exit 1; }
hostdir() { echo "$LAB/$1"; }
sockpath() { echo "$(hostdir "$1")/sock/libvirt-sock"; }
uri() { echo "qemu+unix:///system?socket=$(sockpath "$1")"; }
pidfile() { echo "$(hostdir "$1")/libvirtd.pid"; }

daemon_pid() {
  local f; f="$(pidfile "$1")"
  [ -s "$f" ] || return 1
  local pid; pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

responds() { virsh -q -c "$(uri "$1")" uri >/dev/null 2>&1; }

# CPU time (clock ticks) process $1 and its reaped children have used; fails when it is gone.
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  # the fields after "(comm) ", split on purpose: utime, stime, cutime, cstime are 12-15
  set -- ${stat##*) }
  echo $(( ${12} + ${13} + ${14} + ${15} ))
}

# Wait until host $1's daemon answers, for as long as it keeps working: give up when it
# exited, or when it neither answered nor used any CPU for STALL_S seconds (it hangs). A
# machine busy with other work makes the start slower, not a failure.
STALL_S=60
wait_until_answering() {
  local h="$1" pid ticks last="" still=0
  until responds "$h"; do
    if pid="$(daemon_pid "$h")"; then
      ticks="$(cpu_ticks "$pid" || echo gone)"
      if [ "$ticks" = "$last" ]; then still=$((still + 1)); else still=0; last="$ticks"; fi
    elif [ -s "$(pidfile "$h")" ]; then
      die "libvirtd for host $h exited before answering (see $(hostdir "$h")/libvirtd.log)"
    else
      still=$((still + 1))  # not daemonised yet
    fi
    [ "$still" -lt $((STALL_S * 5)) ] ||
      die "libvirtd for host $h neither answered on $(sockpath "$h") nor worked for ${STALL_S} s"
    sleep 0.2
  done
}

check_prerequisites() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  local missing=()
  for cmd in libvirtd virsh unshare qemu-system-x86_64; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ "${#missing[@]}" -eq 0 ] || die "missing commands: ${missing[*]} (install libvirt-daemon \
libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)"
}

ensure_accounts() {
  getent group kvm >/dev/null || groupadd -r kvm
  getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
  # The QEMU driver looks this user up at start-up even when guests run as root.
  getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g kvm -G libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
}

write_config() {
  local h="$1" d; d="$(hostdir "$h")"
  mkdir -p "$d"/{etc/qemu,run,lib/qemu,log/qemu,cache,sock} "$LAB/images"
  chmod 700 "$d/sock"
  cat >"$d/etc/libvirtd.conf" <<EOF
unix_sock_dir = "$d/sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "${HOST_UUID[$h]}"
log_outputs = "3:file:$d/libvirtd.log"
EOF
  cat >"$d/etc/qemu.conf" <<EOF
user = "root"
group = "root"
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
migration_port_min = ${PORT_MIN[$h]}
migration_port_max = ${PORT_MAX[$h]}
${CGROUPS[$h]}
EOF
}

start_daemon() {
  local h="$1" d; d="$(hostdir "$h")"
  if daemon_pid "$h" >/dev/null && responds "$h"; then
    echo "libvirt-lab: host $h already running (pid $(daemon_pid "$h"))" >&2
    return
  fi
  rm -f "$(pidfile "$h")" "$(sockpath "$h")"
  local script="" pair
  for pair in "${BINDS[@]}"; do
    mkdir -p "${pair#*:}"
    script+="mount --bind $(printf %q "$d/${pair%%:*}") ${pair#*:} && "
  done
  script+="exec libvirtd -d -f $(printf %q "$d/etc/libvirtd.conf") -p $(printf %q "$(pidfile "$h")")"
  unshare -m --propagation private sh -c "$script" >>"$d/start.log" 2>&1 ||
    die "libvirtd for host $h failed to start (see $d/start.log)"
  wait_until_answering "$h"
}

remove_guests() {
  local h="$1" u name
  u="$(uri "$h")"
  responds "$h" || return 0
  while read -r name; do
    [ -n "$name" ] || continue
    virsh -q -c "$u" destroy "$name" >/dev/null 2>&1 || true
    virsh -q -c "$u" undefine "$name" >/dev/null 2>&1 || true
  done < <(virsh -q -c "$u" list --all --name 2>/dev/null)
}

stop_daemon() {
  local h="$1" d pid i
  d="$(hostdir "$h")"
  if pid="$(daemon_pid "$h")"; then
    kill -TERM "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  # Guests the daemon could not destroy: their QEMU pid files live in the host's run dir.
  local f qpid
  for f in "$d"/run/qemu/*.pid; do
    [ -e "$f" ] || continue
    qpid="$(cat "$f" 2>/dev/null || true)"
    [ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null || true
  done
  rm -rf "$d/run" "$d/lib" "$d/etc/qemu" "$d/sock" "$(pidfile "$h")"
}

print_uris() {
  local h
  for h in "${HOSTS[@]}"; do
    echo "FLEETWISE_LAB_URI_${h^^}=$(uri "$h")"
  done
  echo "FLEETWISE_LAB_IMAGES=$LAB/images"
}

cmd_start() {
  check_prerequisites
  [ -e /dev/kvm ] || echo "libvirt-lab: /dev/kvm is absent; only TCG guests will run" >&2
  ensure_accounts
  local h
  for h in "${HOSTS[@]}"; do write_config "$h"; done
  for h in "${HOSTS[@]}"; do start_daemon "$h"; done
  print_uris
}

cmd_stop() {
  local h
  for h in "${HOSTS[@]}"; do remove_guests "$h"; done
  for h in "${HOSTS[@]}"; do stop_daemon "$h"; done
  rm -rf "$LAB/images"
}

cmd_status() {
  local h pid running=0
  for h in "${HOSTS[@]}"; do
    if pid="$(daemon_pid "$h")" && responds "$h"; then
      local n
      n="$(virsh -q -c "$(uri "$h")" list --all --name 2>/dev/null | grep -c . || true)"
      echo "host $h: running (pid $pid, $n guests)"
    else
      echo "host $h: stopped"; running=1
    fi
  done
  print_uris
  return "$running"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
