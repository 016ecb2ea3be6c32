#!/bin/sh
# testdistro stand-in for a real tool: records how it was called and succeeds.
mkdir -p /var/log 2>/dev/null
echo "$0 $*" >> /var/log/standin-calls.log
exit 0
