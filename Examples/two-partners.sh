#!/usr/bin/env bash
# Alex and Sam, two partners, each with their own device, sync a shared journal through a relay
# on this machine that cannot read it. Run from the repository root:
#
#     bash Examples/two-partners.sh
#
# It builds `duet` and `duet-relay` (debug) unless DUET_BIN names a folder holding both, starts a
# relay on a free loopback port, and keeps everything in a temporary folder it removes at the
# end (DUET_EXAMPLE_KEEP=1 keeps it). Exits non-zero if any step does not hold.
set -euo pipefail

if [[ -z "${DUET_BIN:-}" ]]; then
    echo "== building duet and duet-relay (debug; the first build takes a few minutes)"
    swift build --product duet-relay >/dev/null
    swift build --product duet >/dev/null
    DUET_BIN="$(swift build --show-bin-path)"
fi
duet() { "$DUET_BIN/duet" "$@"; }
relay() { "$DUET_BIN/duet-relay" "$@"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/duet-example.XXXXXX")"
relay_pid=""
cleanup() {
    [[ -n "$relay_pid" ]] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
    if [[ "${DUET_EXAMPLE_KEEP:-0}" == 1 ]]; then echo "(kept $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

# Each person has their own home folder and passphrase (on a terminal, duet would prompt for it).
alex() { DUET_HOME="$work/alex" DUET_PASSPHRASE="a long passphrase only Alex knows" duet "$@"; }
sam() { DUET_HOME="$work/sam" DUET_PASSPHRASE="a different passphrase, only Sam knows" duet "$@"; }

echo "== a relay on loopback: it stores and forwards sealed envelopes, and holds no key"
mkfifo "$work/relay.out"
# The binary itself in the background (not a shell function), so that $! is the relay's pid.
# Its operator's listener (/metrics) is on a port of its own, never the public one.
"$DUET_BIN/duet-relay" --port 0 --admin-port 0 --data "$work/relay" --log-level warning >"$work/relay.out" &
relay_pid=$!
exec 3<"$work/relay.out"
listening=""
while read -r line <&3; do
  case "$line" in "listening on "*) listening=$line; break ;; esac
done
[ -n "$listening" ] || fail "the relay did not start"
url="http://127.0.0.1:${listening##*:}"
echo "   $listening"

echo "== Alex and Sam each create a journal on their own device"
alex init --name Alex --device "Alex's laptop" --relay "$url" >/dev/null
sam init --name Sam --device "Sam's phone" --relay "$url" >/dev/null
echo "   Alex: Alex's laptop; Sam: Sam's phone"

echo "== pairing: Alex invites, reads the code to Sam, Sam accepts; both compare the safety number"
exec 4< <(alex pair invite --timeout 120 2>/dev/null)
read -r code <&4
echo "   code (shown once on Alex's screen): $code"
sam_pairing="$(sam pair accept "$code")"
alex_pairing="$(cat <&4)"
alex_number="$(grep 'Safety number' <<<"$alex_pairing")"
sam_number="$(grep 'Safety number' <<<"$sam_pairing")"
echo "   Alex sees: $(head -1 <<<"$alex_pairing") $alex_number"
echo "   Sam sees:  $(head -1 <<<"$sam_pairing") $sam_number"
[[ -n "$alex_number" && "$alex_number" == "$sam_number" ]] || fail "the safety numbers differ"
echo "   The numbers match: nobody is in between."

echo "== each writes a private reflection, and Alex writes a shared one"
alex write --title "Before we talk" --factor safety -m "I am scared that honesty will push Sam away." >/dev/null
sam write --title "Note to self" --factor exploration -m "I want to ask about the trip without accusing." >/dev/null
shared="$(alex write --shared --title "What helped this week" --factor comfort \
    -m "Walking by the river on Sunday helped me feel safe with you.")"
echo "   shared entry $shared"

echo "== both sync; Sam reads the shared entry and acknowledges it"
alex sync
sam sync
sam ack "$shared" >/dev/null
sam list --shared

echo "== offline, both edit the same shared entry at once"
alex edit "$shared" -m "Walking by the river on Sunday helped me feel safe with you. Thank you for listening." >/dev/null
sam edit "$shared" -m "Sam: I noticed it too.
Walking by the river on Sunday helped me feel safe with you." >/dev/null
echo "== back online: everyone syncs"
alex sync
sam sync
alex sync

echo "== the merged entry, identical on both devices"
alex_body="$(alex show "$shared" --json)"
sam_body="$(sam show "$shared" --json)"
[[ "$alex_body" == "$sam_body" ]] || fail "the two devices disagree about the shared entry"
alex show "$shared" --history | grep -v '^  \(title\|factor\|deleted\|mood\) \|^  added\|^  removed'
grep -q "Thank you for listening" <<<"$alex_body" || fail "Alex's edit was lost"
grep -q "I noticed it too" <<<"$alex_body" || fail "Sam's edit was lost"

echo "== who wrote what (authorship comes from the verified signing device)"
echo "-- Alex's device:"
alex list
echo "-- Sam's device (Alex's private entry is not here, not even sealed):"
sam list
if sam list --json | grep -q "Before we talk"; then fail "Alex's private entry reached Sam"; fi

echo "== what the relay could see"
relay inspect --data "$work/relay"
for word in river scared Sunday honesty accusing; do
    if grep -rqa "$word" "$work/relay"; then fail "the relay's files contain the plaintext word '$word'"; fi
done
echo "   No journal text in the relay's files: only sizes, device names and public keys."
echo "== done: the story held"
