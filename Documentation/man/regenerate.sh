#!/usr/bin/env bash
# Regenerates the manual pages from the commands' own help, with swift-argument-parser's
# GenerateManual plugin (it builds every product, then runs each with --experimental-dump-help).
# ManualPageTests fails when a command or option is missing here: run this after changing one.
#   bash Documentation/man/regenerate.sh          # then: man -l Documentation/man/duet.1
set -euo pipefail
cd "$(dirname "$0")/../.."
swift package generate-manual --configuration debug --authors "The Duet authors" >/dev/null
for tool in duet duetd duet-relay; do
  cp ".build/plugins/GenerateManual/outputs/$tool/$tool.1" "Documentation/man/$tool.1"
done
echo "regenerated Documentation/man/{duet,duetd,duet-relay}.1"
