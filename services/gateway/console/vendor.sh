#!/usr/bin/env bash
# Reproduces the console's vendored JavaScript from npm (the files are checked in, so building
# and running Quickstep needs no Node): dagre lays out the state machine graph; axe-core is
# only for the browser test's accessibility check. Needs npm. Run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tests="$here/../../quickstep/tests/console"
DAGRE=3.1.4
AXE=4.11.1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@dagrejs/dagre@$DAGRE" "axe-core@$AXE" >/dev/null
tar xzf "dagrejs-dagre-$DAGRE.tgz" package/dist/dagre.min.js package/LICENSE
cp package/dist/dagre.min.js "$here/vendor/dagre.min.js"
cp package/LICENSE "$here/vendor/dagre.LICENSE"
rm -rf package
tar xzf "axe-core-$AXE.tgz" package/axe.min.js package/LICENSE
mkdir -p "$tests"
cp package/axe.min.js "$tests/axe.min.js"
cp package/LICENSE "$tests/axe.LICENSE"
echo "dagre $DAGRE and axe-core $AXE vendored"
