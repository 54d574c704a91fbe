"""The correlation engine: Sigma correlation rules over base-rule matches, in Python.

The detection engine runs every base (single-event) rule as SQL. For each correlation it asks
`fields_needed(correlation)` which fields to fetch per referenced rule, builds one `Member` per
match, and calls `evaluate(correlation, members)` (or `evaluate_chain` when a correlation
references other correlations). Every hit lists the members that make it up.

Semantics
=========

Windows. A window is `[end - timespan, end]`, **both ends inclusive** (members exactly
`timespan` apart are in one window; SQL `RANGE BETWEEN timespan PRECEDING AND CURRENT ROW`,
as pySigma-backend-sqlite does). Windows slide: every window ending at a member's time is
measured, with two pointers over the group's time-sorted members (O(n log n) for the sort, O(n)
for the sweep). Never fixed buckets, never the whole group at once. Ending windows at members is
exact for gt/gte: any qualifying window contains one that ends at its last member.

Types. event_count counts distinct events (an event matched by two referenced rules counts
once); value_count counts distinct non-None values of `field` (a list of fields counts
distinct combinations, all fields present); value_sum / value_avg / value_median /
value_percentile use the numeric values of `field` (ints, floats, JSON-number strings; not
booleans), computed exactly, percentiles by linear interpolation at rank (n - 1) * p / 100;
a window without a number measures nothing and never qualifies. temporal counts the distinct
rules that fire in the window (the default condition is "all of them").
temporal_ordered runs EQL-style `Sequence`s (see `sequence.py`): stages are the rules in listed
order, joined on the group-by fields, maxspan = timespan, strictly increasing times (equal
timestamps never establish order). With `gte k` / `gt k-1` below the number of rules, every
ordered subset of k rules is a sequence of its own. Case 6 of the reference (4624 then 4625 for
dave) gives no hit for `[failed, ok]`.

lt / lte / eq / neq. As in pySigma-backend-sqlite, the measured windows are those ending at a
member, so `event_count lt 3` fires for any group whose activity starts with fewer than three
events in a timespan: that is what "some window has fewer than N" means once empty windows are
excluded (without a list of quiet periods the engine cannot reason about empty windows).
temporal_ordered with such a bound counts distinct rules in the window and requires the rules
present to occur in listed order (the backend's reading). pySigma 2.0.1 rejects ranges
(`gte` and `lt` together) at parse time; `Threshold` supports them for TrailGuard's own format.

Extended conditions (`condition: "a and not b"`) are put in disjunctive normal form. A branch
without negation is an ordinary backward window in which its rules fire (in listed order, as a
sequence, for temporal_ordered). A branch with negation looks forward, as the backend does:
from each member `t` of a required rule, the window `[t, t + timespan]` must contain the
required rules and none of the negated ones, and is reported only once it has closed
(`t + timespan <= observation_end`). A branch made only of negations (`not a`) is refused
with `UnsupportedCorrelation`: it needs every event of the group, not only matches.

Groups. group-by values are compared as Sigma compares strings, case-insensitively
(`str.casefold`, a superset of SQLite's ASCII-only `lower`); other values compare as Python
does (1 == 1.0 == True, 1 != "1"). `aliases` map a group-by name to each rule's own field. A
member without a group-by value groups under **None** (SQL `GROUP BY` semantics: nothing is
silently dropped); `drop_missing_groups=True` ignores such members instead, as the sqlite
backend does. A hit reports group values as spelled by its first member.

Bursts. Qualifying windows of one group that overlap in time (a window starting no later than
the previous one ends) form one burst, reported as **one hit**: a burst of 500 failed logons in
five minutes is one alert, not 496. `time` is its first member's time, `end` its last's,
`members` every member that is evidence in at least one of its windows (for temporal_ordered,
the members of the completed sequences), `value` the peak measurement (the lowest for lt/lte
conditions). Activity separated by gaps longer than `timespan` gives separate hits.

Chains. `hits_as_members(reference, hits)` turns an inner correlation's hits into members of
the outer one: one member per hit, at the hit's **end** (when the burst was last confirmed; a
two-hour burst of slow brute force must not sit two hours before the success that follows it;
`at="start"` is available), fields = the hit's group values (plus the measured value under the
inner type's name, e.g. `event_count`, in `evaluate_chain`), uid = "corr:" + a hash of the
reference and the member uids (stable). An outer correlation can group only by the inner one's
group-by names; `evaluate_chain` refuses anything else with `UnsupportedCorrelation`.

Sequences. `Sequence`, `Stage` and `SequenceMatch` are public so TrailGuard's own rule format
can declare EQL sequences with per-stage join fields, `maxspan` and `until`.

Differences from pySigma-backend-sqlite 2.1.1 (the differential test's oracle, which agrees on
which groups alert for every type, operator, alias and extended condition tested):

* It reports one alert per qualifying window; we report one per burst (see Bursts).
* It drops members without a group value; we group them under None unless asked to drop.
* Its case folding is ASCII only (SQLite `lower`); ours is Unicode `casefold`.
* Chained, it emits one child event per qualifying window, so an outer `event_count` counts
  windows: "two bursts in an hour" fires on one burst. We count bursts.
* For temporal_ordered evidence it takes the earliest chain in the window; the EQL machine
  keeps the latest start (the chain most likely to fit the timespan). Alerting agrees.
* It rounds times to milliseconds; we keep microseconds. It refuses value_count over a list of
  fields; we count distinct combinations.
"""

from trailguard.detect.correlation.engine import (
    evaluate,
    evaluate_chain,
    fields_needed,
    hits_as_members,
)
from trailguard.detect.correlation.model import (
    Bound,
    CorrelationError,
    CorrelationHit,
    CorrelationInputError,
    Member,
    Threshold,
    UnsupportedCorrelation,
)
from trailguard.detect.correlation.sequence import Sequence, SequenceMatch, Stage

__all__ = [
    "Bound",
    "CorrelationError",
    "CorrelationHit",
    "CorrelationInputError",
    "Member",
    "Sequence",
    "SequenceMatch",
    "Stage",
    "Threshold",
    "UnsupportedCorrelation",
    "evaluate",
    "evaluate_chain",
    "fields_needed",
    "hits_as_members",
]
