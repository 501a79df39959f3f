#!/bin/sh
# Extract the TCP payloads of the reference glusterd 10.3 captures into test vectors.
#
# One TSV per capture: frame number, TCP stream index, source port, destination port, payload
# as hex, one TCP segment per line (segments carrying no data are skipped). The tests rebuild
# each direction of each stream with our record decoder, so framing is exercised as well.
# Port 24007 is glusterd: segments towards it are calls from bricks/clients, the others are
# glusterd's replies and callbacks.
#
# Usage: tests/mgmt_rpc/vectors/extract.sh [CAPTURE_DIR]   (needs tshark; default: the
# captures in tests/data/glusterd-10.3/captures)
set -eu
captures=${1:-$(dirname "$0")/../../data/glusterd-10.3/captures}
out=$(dirname "$0")
for pcap in "$captures"/*.pcap; do
    name=$(basename "$pcap" .pcap)
    tshark -r "$pcap" -Y 'tcp.len > 0' \
        -T fields -E separator=/t \
        -e frame.number -e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.payload \
        > "$out/$name.tsv"
    echo "$out/$name.tsv: $(wc -l < "$out/$name.tsv") segments"
done
