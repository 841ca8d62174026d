"""HTTP/2 server conformance cases: a Python re-implementation of h2spec's.

What it is: the cases h2spec (https://github.com/summerwind/h2spec) runs against an HTTP/2
server, in three groups: `generic` (ordinary traffic), `http2` (the rules of RFC 9113,
sections 3 to 8) and `hpack` (RFC 7541 decoding errors). `CASES` holds all 147 in h2spec's
order: its 146 default cases and `http2/5.4.1/2`, which h2spec runs in its strict mode only.

Where the cases come from: h2spec's list of cases. Each keeps h2spec's id (group, section,
number: "http2/8.1.2.6/1"), so a result here can be set beside an h2spec run of the same
server; the `http2` ids use the section numbers of RFC 7540, which RFC 9113 replaced (8.1.2.6
is 8.1.1 there). Each case sends what h2spec's sends; the descriptions and the code are this
project's own.

How a pass is decided: each case opens its own cleartext connection with prior knowledge,
sends its frames, then reads what the server sends under h2spec's pass rule (`rules`): every
wait for a frame has its own timeout (`Target.timeout`; h2spec's is 2 s), a timeout fails,
and where the case expects an error, a GOAWAY or RST_STREAM with one of the codes passes,
and so does the connection closing. A case returns its `Verdict` (the rule and the event
that passed it), so a test can ask for more than h2spec does; it raises `Failed` otherwise,
`Skipped` when the server lacks what the case needs, and `HandshakeFailed` when the
SETTINGS exchange itself did not complete.

Modules: `wire` (the raw-frame client), `rules` (pass rules), `case` (cases and their
target), then one module per group: `generic`, `http2_streams` (sections 3 to 5),
`http2_frames` (section 6), `http2_messages` (sections 7 and 8), `hpack_decoding`.
"""

from __future__ import annotations

from tests.http2.conformance import (
    generic,
    hpack_decoding,
    http2_frames,
    http2_messages,
    http2_streams,
)
from tests.http2.conformance.case import Case, Target
from tests.http2.conformance.rules import Failed, Rule, Skipped, Verdict
from tests.http2.conformance.wire import HandshakeFailed

CASES: tuple[Case, ...] = tuple(
    case
    for module in (generic, http2_streams, http2_frames, http2_messages, hpack_decoding)
    for case in module.GROUP.cases
)

__all__ = ["CASES", "Case", "Failed", "HandshakeFailed", "Rule", "Skipped", "Target", "Verdict"]
