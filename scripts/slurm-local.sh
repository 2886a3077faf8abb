#!/usr/bin/env bash
# Check the Slurm recipe of docs/cluster.md on this machine: install Debian's
# slurm-wlm and munge when missing, start a one-node Slurm, submit
# scripts/shards.sbatch as a job array of 8 shards, wait, merge, and compare
# with a single run of the same seed and paths. Needs root (apt, daemons).
# Not part of the test suite.
#
#   scripts/slurm-local.sh [SCENARIO] [PATHS]
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-scenarios/openai-shift.toml}
PATHS=${2:-400000}
SHARDS=8
BIN=$PWD/target/release/backlog-risk
[ -x "$BIN" ] || cargo build --release --quiet

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi

WORK=$(mktemp -d /tmp/slurm-local.XXXXXX)
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out" "$WORK/logs"
HOST=$(hostname -s)
CPUS=$(nproc)
status=1
cleanup() {
    [ -f "$WORK/slurmd.pid" ] && kill "$(cat "$WORK/slurmd.pid")" 2>/dev/null || true
    [ -f "$WORK/slurmctld.pid" ] && kill "$(cat "$WORK/slurmctld.pid")" 2>/dev/null || true
    if [ "$status" -eq 0 ]; then rm -rf "$WORK"; else echo "logs and outputs kept in $WORK"; fi
}
trap cleanup EXIT

# munge: a key, and the daemon, run as the munge user Debian's package made.
if ! munge -n >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 10); do munge -n >/dev/null 2>&1 && break; sleep 1; done
fi

cat > "$WORK/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/logs/slurmctld.log
SlurmdLogFile=$WORK/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$WORK/slurm.conf
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 1; done
sinfo

echo "submitting $SHARDS shards of $SCENARIO, $PATHS paths"
export BACKLOG_RISK=$BIN SCENARIO PATHS OUT=$WORK/out
t0=$(date +%s.%N)
sbatch --wait --array=0-$((SHARDS - 1)) --chdir="$PWD" --output="$WORK/logs/shard-%a.out" scripts/shards.sbatch
t1=$(date +%s.%N)
name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$SCENARIO" | head -1)
ls "$WORK/out/$name"
"$BIN" merge "$WORK/out/$name/" --out "$WORK/out" --no-charts
"$BIN" run "$SCENARIO" --paths "$PATHS" --quiet --no-charts --out "$WORK/single"
printf 'job array of %s shards: %.1f s\n' "$SHARDS" "$(echo "$t1 - $t0" | bc -l)"
status=0
for f in summary.csv fan.csv revenue.csv errors.csv; do
    if cmp -s "$WORK/out/$name/$f" "$WORK/single/$name/$f"; then
        echo "$f: identical to the single run"
    else
        echo "$f: DIFFERS from the single run"; status=1
    fi
done
exit $status
