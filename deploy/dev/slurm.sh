#!/usr/bin/env bash
# A single-host Slurm cluster on this machine, for developing and testing the Slurm runner
# scripts (deploy/slurm): installs Debian's slurm-wlm and munge when missing, writes
# /etc/slurm/slurm.conf (cluster aide-dev; one node, this host's short hostname at 127.0.0.1
# with the CPUs and memory `slurmd -C` finds; one partition `debug`, the default) and starts
# munged, slurmctld and slurmd directly (no systemd needed; they run as root, and so do jobs
# submitted by root). Idempotent: a cluster that answers and runs this configuration is
# reused; a changed configuration restarts the daemons; a DOWN or DRAINED node is resumed.
# Ends with the node usable (idle, or busy with jobs already there) and one summary line on
# stdout. Needs root. State in /var/spool/slurmctld and /var/spool/slurmd, logs in
# /var/log/slurm.
#
# Variables:
#   AIDE_SLURM_FAKE_GPUS  GPUs the node declares as generic resources (gres/gpu, backed by
#                         copies of /dev/null in /var/spool/slurm-fake-gpus: there is no GPU
#                         behind them and nothing is isolated) so that `--gres=gpu:1` jobs
#                         are scheduled here, one per fake GPU at a time, with
#                         CUDA_VISIBLE_DEVICES set; 0 declares none [default: 1]
#   AIDE_SLURM_KILL_WAIT  seconds between the SIGTERM and the SIGKILL of a cancelled job's
#                         processes: keep it above the runners' --drain-secs [default: 60]
#   AIDE_SLURM_SHARE      jobs that may share one core (partition OverSubscribe=FORCE:N), so
#                         a small host runs more idle runners than it has cores; 1 turns
#                         sharing off [default: 4]
#   AIDE_SLURM_STOP=1     stop the daemons this script started, and exit
set -euo pipefail
start=$SECONDS

say() { printf '[slurm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"

gpus=${AIDE_SLURM_FAKE_GPUS:-1}
kill_wait=${AIDE_SLURM_KILL_WAIT:-60}
share=${AIDE_SLURM_SHARE:-4}
[[ $gpus =~ ^[0-9]+$ ]] || die "AIDE_SLURM_FAKE_GPUS: a count, not '$gpus'"
[[ $kill_wait =~ ^[0-9]+$ ]] || die "AIDE_SLURM_KILL_WAIT: seconds, not '$kill_wait'"
[[ $share =~ ^[1-9][0-9]*$ ]] || die "AIDE_SLURM_SHARE: a count >= 1, not '$share'"

conf_dir=/etc/slurm
log_dir=/var/log/slurm
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid
munge_pid=/run/munge/munged.pid
fake_gpu_dir=/var/spool/slurm-fake-gpus
node=$(hostname -s)

# pid_alive <pid file> <command name>: the pid in the file is a live process of that name.
pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# stop <pid file> <command name>: SIGTERM that daemon and wait (10 s) for it to go.
stop() {
  pid_alive "$1" "$2" || return 0
  local pid
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.1
  done
  say "warning: $2 ($pid) still runs 10 s after SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

if [ "${AIDE_SLURM_STOP:-0}" = 1 ]; then
  stop "$slurmd_pid" slurmd
  stop "$ctld_pid" slurmctld
  stop "$munge_pid" munged
  echo "slurm stopped"
  exit 0
fi

# --- packages ---------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  # policy-rc.d (Docker's images have one) keeps the packages from starting daemons; this
  # script starts them itself either way.
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }
  if ! apt_install 2>/dev/null; then
    apt-get update -qq
    apt_install
  fi
fi

# --- munge ------------------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating the munge key"
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key
  else
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
  say "starting munged"
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  # As the munge user, as the packaged service does; --force skips the checks of
  # directory permissions that some container file systems fail.
  runuser -u munge -- munged --force --pid-file="$munge_pid"
  for _ in $(seq 1 50); do
    munge_ok && break
    sleep 0.1
  done
  munge_ok || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# --- slurm.conf -------------------------------------------------------------------------
# The node as slurmd sees it (CPUs, sockets, cores, threads, memory), renamed and addressed
# at loopback: a node configured with more than the host has would be drained.
hw=$(slurmd -C | head -n 1 | tr ' ' '\n' |
  grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')
[ -n "$hw" ] || die "slurmd -C did not describe this host"
gres_node=""
gres_types=""
devices_changed=0
if [ "$gpus" -gt 0 ]; then
  gres_node="Gres=gpu:$gpus"
  gres_types="GresTypes=gpu"
fi
if [ "$share" -gt 1 ]; then
  oversubscribe="FORCE:$share"
else
  oversubscribe=NO
fi
mkdir -p "$conf_dir" "$log_dir" /var/spool/slurmctld /var/spool/slurmd
new_conf=$(mktemp)
new_gres=$(mktemp)
trap 'rm -f "$new_conf" "$new_gres"' EXIT
cat >"$new_conf" <<EOF
# Written by aide's deploy/dev/slurm.sh: a single-host development cluster. Edits are lost
# when the script runs again.
ClusterName=aide-dev
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No cgroups: processes are tracked by their parentage, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
$gres_types
# A cancelled job's processes get SIGTERM, then SIGKILL this many seconds later: above the
# runners' --drain-secs, so a draining runner is never killed mid-drain.
KillWait=$kill_wait
# A node that was DOWN comes back by itself once its slurmd registers with a valid config.
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$node NodeAddr=127.0.0.1 ${hw}${gres_node} State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=$oversubscribe
EOF
if [ "$gpus" -gt 0 ]; then
  # Slurm ignores a GPU without File= (the node turns INVALID) and wants a device there:
  # each fake GPU is a copy of /dev/null's node (c 1:3), so jobs get CUDA_VISIBLE_DEVICES
  # from its index; with task/none nothing is enforced. Where mknod is not allowed a plain
  # file still schedules, without CUDA_VISIBLE_DEVICES (slurmd logs an error).
  mkdir -p "$fake_gpu_dir"
  for i in $(seq 0 $((gpus - 1))); do
    f="$fake_gpu_dir/gpu$i"
    [ -c "$f" ] && continue
    if mknod -m 0666 "$f.new" c 1 3 2>/dev/null; then
      mv -f "$f.new" "$f"
      devices_changed=1
    elif [ ! -e "$f" ]; then
      : >"$f"
      devices_changed=1
    fi
  done
  echo "NodeName=$node Name=gpu File=$fake_gpu_dir/gpu[0-$((gpus - 1))]" >"$new_gres"
fi
changed=$devices_changed
cmp -s "$new_conf" "$conf_dir/slurm.conf" || changed=1
if [ -s "$new_gres" ]; then
  cmp -s "$new_gres" "$conf_dir/gres.conf" || changed=1
elif [ -e "$conf_dir/gres.conf" ]; then
  changed=1
fi

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
reused=1
if [ "$changed" = 1 ]; then
  if pid_alive "$ctld_pid" slurmctld || pid_alive "$slurmd_pid" slurmd; then
    say "the configuration changed: restarting slurmctld and slurmd"
    reused=0
  fi
  stop "$slurmd_pid" slurmd
  stop "$ctld_pid" slurmctld
  install -m 0644 "$new_conf" "$conf_dir/slurm.conf"
  if [ -s "$new_gres" ]; then
    install -m 0644 "$new_gres" "$conf_dir/gres.conf"
  else
    rm -f "$conf_dir/gres.conf"
  fi
fi

# --- daemons ----------------------------------------------------------------------------
if ! pid_alive "$ctld_pid" slurmctld || ! ctld_up; then
  reused=0
  stop "$ctld_pid" slurmctld
  say "starting slurmctld"
  slurmctld
  for _ in $(seq 1 100); do
    ctld_up && break
    sleep 0.2
  done
  ctld_up || die "slurmctld does not answer (see $log_dir/slurmctld.log)"
fi
if ! pid_alive "$slurmd_pid" slurmd; then
  reused=0
  say "starting slurmd"
  slurmd
fi

# --- the node ---------------------------------------------------------------------------
# sinfo's %T: idle, mixed, allocated, completing, down, drained, draining, ...; a trailing
# * means not responding (yet), ~ powered off, # powering up.
state() { sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1; }
resumed=0
for _ in $(seq 1 150); do
  s=$(state)
  case "$s" in
    idle | mixed | allocated | completing) break ;;
    down | drained | draining | fail | failing | inval | down\*)
      if [ "$resumed" = 0 ] && [ "$s" != "down*" ]; then
        reason=$(sinfo -h -n "$node" -o %E 2>/dev/null | head -n 1)
        say "node $node is $s ($reason): resuming it"
        scontrol update nodename="$node" state=resume || true
        resumed=1
      fi
      ;;
  esac
  sleep 0.2
done
s=$(state)
case "$s" in
  idle | mixed | allocated | completing) ;;
  *) die "node $node is '$s' (sinfo -R says: $(sinfo -h -R -o '%E' | head -n 1); see $log_dir/slurmd.log)" ;;
esac

cpus=$(sed -n 's/.*\bCPUs=\([0-9]*\).*/\1/p' <<<"$hw")
mem=$(sed -n 's/.*\bRealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
how=started
[ "$reused" = 1 ] && how=reused
echo "slurm ready: cluster aide-dev, node $node ($cpus CPUs, $mem MB, $gpus fake GPUs) $s in partition debug, KillWait ${kill_wait}s, $how in $((SECONDS - start))s"
