#!/usr/bin/env bash
# The console's browser tests drive Debian's Chromium (never a downloaded browser). Install it when
# we can (root with apt-get); otherwise those tests skip with a reason. Never fails the caller.
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed; the console browser tests will be skipped" >&2
else
    echo "chromium not found (install Debian's 'chromium' package to run the browser tests)" >&2
fi
exit 0
