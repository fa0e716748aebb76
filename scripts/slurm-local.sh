#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost, for the workflow's SLURM test.
#   scripts/slurm-local.sh up     install (Debian packages) and start munged, slurmctld, slurmd
#   scripts/slurm-local.sh down   stop them by their pid files
#   scripts/slurm-local.sh status
# WITH_DBD=1 also starts MariaDB + slurmdbd so that `sacct` works (the workflow profile uses
# `slurm-status-command: squeue`, so the light cluster is the default).
# Needs root (as on CI). Debian 12 without systemd or cgroups: this script is the whole recipe.
set -euo pipefail
WITH_DBD="${WITH_DBD:-0}"
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=600 -q"
PIDFILES="/run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid"

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local pkgs="slurmctld slurmd slurm-client munge"
    [ "$WITH_DBD" = 1 ] && pkgs="$pkgs slurmdbd mariadb-server"
    # shellcheck disable=SC2086
    if ! dpkg -s $pkgs >/dev/null 2>&1; then
        $APT update
        # shellcheck disable=SC2086
        $APT install -y --no-install-recommends $pkgs
    fi
}

start_munge() {
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged
        for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    fi
}

write_config() {
    local node ncpu mem acct
    node="$(hostname -s)"
    ncpu="$(nproc)"
    mem="$(free -m | awk '/^Mem:/{print $2}')"
    if [ "$WITH_DBD" = 1 ]; then
        acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux"
    else
        acct="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
    fi
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    chown slurm:slurm /var/spool/slurmctld /var/log/slurm
    cat >/etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
${acct}
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${ncpu} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_dbd() {
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    if ! mariadb-admin ping >/dev/null 2>&1; then
        setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
            >/var/log/slurm/mariadb.log 2>&1 </dev/null &
        for _ in $(seq 1 60); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
    fi
    mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
      CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
    cat >/etc/slurm/slurmdbd.conf <<'CONF'
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmpw
CONF
    chown slurm:slurm /etc/slurm/slurmdbd.conf && chmod 0600 /etc/slurm/slurmdbd.conf
    running /run/slurmdbd.pid || /usr/sbin/slurmdbd
    for _ in $(seq 1 30); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 1; done
}

up() {
    if [ "$(id -u)" != 0 ]; then
        echo "slurm-local: must run as root (installs packages and starts daemons)" >&2
        exit 2
    fi
    install_packages
    start_munge
    write_config
    [ "$WITH_DBD" = 1 ] && start_dbd
    running /run/slurmctld.pid || /usr/sbin/slurmctld
    running /run/slurmd.pid || /usr/sbin/slurmd
    for _ in $(seq 1 60); do
        sinfo -h -o '%T' 2>/dev/null | grep -q '^idle' && break
        sleep 1
    done
    sinfo
    timeout 60 srun -N1 -n1 hostname >/dev/null # smoke test: fails if jobs cannot run
    echo "slurm-local: cluster up"
}

down() {
    for pidfile in $PIDFILES; do
        [ -s "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -0 "$pid" 2>/dev/null && echo "slurm-local: pid $pid ($pidfile) still alive" >&2
        fi
        rm -f "$pidfile"
    done
    echo "slurm-local: cluster down"
}

status() {
    for pidfile in $PIDFILES; do
        if running "$pidfile"; then echo "running: $pidfile ($(cat "$pidfile"))"; fi
    done
    sinfo 2>/dev/null || true
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
