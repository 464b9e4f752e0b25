#!/usr/bin/env bash
# A real Slurm cluster of one node on this machine, for bootscale's cluster
# tests and for users to try the future.batchtools backend.
#
#   bash tools/slurm-local.sh install  install what is missing (apt; CRAN fallback for R)
#   bash tools/slurm-local.sh start    install, then start munged, slurmctld, slurmd
#                                      and wait until the node is idle
#   bash tools/slurm-local.sh stop     cancel jobs, stop the daemons by their
#                                      recorded PIDs, check that nothing is left
#   bash tools/slurm-local.sh status   sinfo and squeue
#
# Every file (config, munge key and socket, state, spool, logs, PIDs) lives
# under one directory, $BOOTSCALE_SLURM_DIR (default /tmp/bootscale-slurm).
# Clients need SLURM_CONF: `. $BOOTSCALE_SLURM_DIR/env.sh` sets it (and USER,
# which batchtools passes to squeue). Daemons run as plain background
# processes of root (no systemd here) and are stopped by PID, never by name.
#
# Pitfalls met on machines of this kind, and what this script does about them:
# cgroup plugins fail (proctrack/linuxproc, task/none, jobacct_gather/none);
# a node whose CPUs or RealMemory exceed what `slurmd -C` reports goes INVAL
# (the values are taken from `slurmd -C`); munged wants its key owned by the
# munge user with mode 0400 and a socket directory of mode 0755; the first
# scheduling pass would wait a few seconds (batch_sched_delay=0).
set -euo pipefail

dir=${BOOTSCALE_SLURM_DIR:-/tmp/bootscale-slurm}
ctld_port=${BOOTSCALE_SLURM_PORT:-6817}
slurmd_port=$((ctld_port + 1))
SYS_PKGS="slurmctld slurmd slurm-client munge"
R_PKGS="future batchtools future.batchtools"

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

sudo_cmd() { if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi; }

apt_install() {
  # Other processes may hold the apt lock for a while: wait, do not fail.
  local tries=0
  until sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$@"; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || return 1
    say "apt busy or failed; retrying in 10 s ($tries/30)"
    sleep 10
  done
}

missing_r_pkgs() {
  Rscript --vanilla -e '
    want <- strsplit(commandArgs(TRUE), "[[:space:]]+")[[1]]
    cat(setdiff(want[nzchar(want)], rownames(installed.packages())), sep = "\n")' "$R_PKGS"
}

do_install() {
  local t0 need_sys="" need_r p
  t0=$(date +%s.%N)
  for p in $SYS_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      need_sys="$need_sys $p"
  done
  need_r=$(missing_r_pkgs | xargs)
  if [ -n "$need_sys$need_r" ]; then
    local debs="$need_sys"
    for p in $need_r; do debs="$debs r-cran-$(echo "$p" | tr 'A-Z' 'a-z')"; done
    say "installing:$debs"
    sudo_cmd apt-get update -qq || true
    if ! apt_install $debs; then
      [ -z "$need_sys" ] || apt_install $need_sys || die "cannot install$need_sys"
    fi
    need_r=$(missing_r_pkgs | xargs)
    if [ -n "$need_r" ]; then
      say "from CRAN: $need_r"
      Rscript --vanilla -e 'install.packages(commandArgs(TRUE), repos = "https://cloud.r-project.org")' $need_r
      [ -z "$(missing_r_pkgs)" ] || die "cannot install R packages: $(missing_r_pkgs | tr '\n' ' ')"
    fi
  fi
  say "install: everything present ($(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s)"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# PIDs of processes of this cluster: the recorded daemons, whatever carries
# the mark that start_bg gives the daemons (slurmstepd inherits it from
# slurmd), and the jobs' processes (SLURM_JOB_ID with our SLURM_CONF).
# Found by PID and environment, never by name.
our_pids() {
  local f p
  for f in "$dir"/pids/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    pid_alive "$p" && echo "$p"
  done
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    if grep -qzx "BOOTSCALE_SLURM_MARK=$dir" "/proc/$p/environ" 2>/dev/null ||
       { grep -qzx "SLURM_CONF=$dir/etc/slurm.conf" "/proc/$p/environ" 2>/dev/null &&
         grep -qz "^SLURM_JOB_ID=" "/proc/$p/environ" 2>/dev/null; }; then
      echo "$p"
    fi
  done
  return 0
}

leftovers() { our_pids | sort -un | xargs; }

write_config() {
  local host cpus mem node_line
  host=$(hostname -s)
  # slurmd -C prints the node as slurmd sees it; declaring more makes it INVAL.
  node_line=$(slurmd -C | head -n 1)
  cpus=$(echo "$node_line" | sed -nE 's/.*CPUs=([0-9]+).*/\1/p')
  mem=$(echo "$node_line" | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p')
  [ -n "$cpus" ] && [ -n "$mem" ] || die "cannot read the node from slurmd -C: $node_line"
  cat > "$dir/etc/slurm.conf" <<EOF
# Written by bootscale's tools/slurm-local.sh: a one-node cluster under $dir.
ClusterName=bootscale
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd.%n
SlurmctldPidFile=$dir/pids/slurmctld.daemon.pid
SlurmdPidFile=$dir/pids/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
KillWait=5
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  cat > "$dir/env.sh" <<EOF
export SLURM_CONF=$dir/etc/slurm.conf
export USER=\${USER:-\$(id -un)}
EOF
}

start_bg() { # name command...: start in the background, record its PID
  local name=$1
  shift
  env BOOTSCALE_SLURM_MARK="$dir" "$@" >> "$dir/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

do_start() {
  do_install
  if [ -d "$dir/pids" ] && [ -n "$(leftovers)" ]; then
    die "a local cluster is already running under $dir (stop it first)"
  fi
  local t0
  t0=$(date +%s.%N)
  rm -rf "$dir"
  mkdir -p "$dir"/{etc,munge,state,spool,log,pids}
  # munged: key owned by munge, 0400; socket directory 0755.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key" "$dir/munge"
  chmod 0400 "$dir/munge/munge.key"
  chmod 0755 "$dir/munge"
  write_config
  export SLURM_CONF=$dir/etc/slurm.conf
  export USER=${USER:-$(id -un)}
  start_bg munged munged --foreground --force --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket.2" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log"
  local i
  for i in $(seq 50); do [ -S "$dir/munge/munge.socket.2" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.socket.2" ] || { do_stop; die "munged did not start; see $dir/log/munged.out"; }
  start_bg slurmctld slurmctld -D -f "$dir/etc/slurm.conf"
  start_bg slurmd slurmd -D -f "$dir/etc/slurm.conf"
  local state=""
  for i in $(seq 300); do
    state=$(sinfo -h -o %t 2>/dev/null | head -n 1 || true)
    [ "$state" = "idle" ] && break
    for f in munged slurmctld slurmd; do
      pid_alive "$(cat "$dir/pids/$f.pid")" || { do_stop; die "$f exited; see $dir/log/"; }
    done
    sleep 0.1
  done
  if [ "$state" != "idle" ]; then
    sinfo -R >&2 || true
    do_stop
    die "the node did not become idle (state: ${state:-none}); see $dir/log/"
  fi
  say "started in $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s (node idle): . $dir/env.sh"
}

do_stop() {
  [ -d "$dir/pids" ] || { say "nothing to stop under $dir"; return 0; }
  export SLURM_CONF=$dir/etc/slurm.conf
  # Jobs first, while slurmctld and slurmd can still end them cleanly.
  if pid_alive "$(cat "$dir/pids/slurmctld.pid" 2>/dev/null)"; then
    scancel --full "--user=$(id -un)" 2>/dev/null || true
    local i
    for i in $(seq 100); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  local name p
  for name in slurmd slurmctld munged; do
    p=$(cat "$dir/pids/$name.pid" 2>/dev/null || true)
    pid_alive "$p" && kill -TERM "$p" 2>/dev/null || true
  done
  for i in $(seq 100); do
    [ -z "$(leftovers)" ] && break
    sleep 0.1
  done
  # Job steps still alive after their daemons are gone: by PID, found above.
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    say "killing leftover processes: $left"
    kill -KILL $left 2>/dev/null || true
    sleep 0.5
    left=$(leftovers)
  fi
  if [ -n "$left" ]; then
    ps -o pid,ppid,args -p "$(echo $left | tr ' ' ',')" >&2 || true
    die "processes are left: $left"
  fi
  say "stopped; no process of the cluster under $dir is left"
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status)
    export SLURM_CONF=$dir/etc/slurm.conf
    sinfo
    squeue
    echo "processes of the cluster: $(leftovers)"
    ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
