#!/usr/bin/env bash
# Per-call cost of socket() in seccomp mode, against preload mode and against
# no mptcpize at all: examples/src/bin/socket-loop creates and closes N
# sockets (tcp: converted to MPTCP by both modes; udp: passed through, so its
# figure is what the seccomp filter costs every other system call). Each
# figure is the median of ROUNDS runs, the modes interleaved so that noise
# from other load hits them alike.
#
# Usage: bench/seccomp.sh [N] [ROUNDS] [DIR]
#   N       socket() calls per run (default 100000)
#   ROUNDS  runs per figure (default 5)
#   DIR     where socket-loop and mptcpize-rs are (default target/release;
#           build them with `cargo build --release --workspace`)
#
# Output, one line per kind and mode, then the seccomp overhead per call:
#   kind mode     ns/call
#   tcp  none     6100
#   tcp  preload  7000
#   tcp  seccomp  19000
#   ...
#   seccomp overhead per converted socket(): 12000 ns (seccomp - preload)
#   seccomp overhead per other syscall pair (udp socket+close): 40 ns (seccomp - none)
#
# Where perf(1) is installed, it also prints the CPU time per TCP call of all
# the processes involved (the program, and the supervisor in seccomp mode),
# which the machine's other load does not inflate:
#   cpu tcp none     5300 ns/call
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
rounds=${2:-5}
dir=${3:-target/release}
loop=$dir/socket-loop
launcher=$dir/mptcpize-rs
for f in "$loop" "$launcher"; do
  [ -x "$f" ] || { echo "bench/seccomp.sh: $f is missing: cargo build --release --workspace" >&2; exit 2; }
done

# "100000 socket() calls: 1234 ns each" -> 1234
ns() { "$@" | awk '/socket\(\) calls/ {print $(NF-2)}'; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A runs
for kind in tcp udp; do
  for ((r = 0; r < rounds; r++)); do
    runs[${kind}_none]+="$(ns "$loop" "$n" "$kind") "
    runs[${kind}_preload]+="$(ns "$launcher" run --mode preload "$loop" "$n" "$kind") "
    runs[${kind}_seccomp]+="$(ns "$launcher" run --mode seccomp "$loop" "$n" "$kind") "
  done
done

declare -A fig
printf '%-4s %-8s %s\n' kind mode ns/call
for kind in tcp udp; do
  for mode in none preload seccomp; do
    fig[${kind}_$mode]=$(tr ' ' '\n' <<<"${runs[${kind}_$mode]}" | grep . | median)
    printf '%-4s %-8s %s\n' "$kind" "$mode" "${fig[${kind}_$mode]}"
  done
done
echo "seccomp overhead per converted socket(): $((fig[tcp_seccomp] - fig[tcp_preload])) ns (seccomp - preload)"
echo "seccomp overhead per other syscall pair (udp socket+close): $((fig[udp_seccomp] - fig[udp_none])) ns (seccomp - none)"

if command -v perf >/dev/null; then
  # task-clock in msec, counted over the program and its descendants.
  cpu() { perf stat -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}'; }
  for mode in none preload seccomp; do
    case $mode in
      none) ms=$(cpu "$loop" "$n" tcp) ;;
      *) ms=$(cpu "$launcher" run --mode "$mode" "$loop" "$n" tcp) ;;
    esac
    printf 'cpu tcp %-8s %s ns/call\n' "$mode" "$(awk -v ms="$ms" -v n="$n" 'BEGIN {printf "%d", ms * 1e6 / n}')"
  done
fi
