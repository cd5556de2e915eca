#!/usr/bin/env bash
# Runs one step of the CTest fixture (start.sh or stop.sh) and ends with the
# summary line the other test scripts print: "NAME: 1 passed, 0 failed".
#   run_step.sh NAME COMMAND [ARGS...]
name="$1"; shift
"$@"
rc=$?
if (( rc == 0 )); then
  echo "$name: 1 passed, 0 failed"
else
  echo "$name: 0 passed, 1 failed (exit code $rc)"
fi
exit $rc
