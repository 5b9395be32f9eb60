"""Search attributes of a complaint: what ``temporal workflow list --query`` and the UI filter on.

No personal data goes here; ids, statuses and dates only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STATUS = SearchAttributeKey.for_keyword("OmbudsStatus")
STAGE = SearchAttributeKey.for_keyword("OmbudsStage")
LEVEL = SearchAttributeKey.for_keyword("OmbudsLevel")
SEVERITY = SearchAttributeKey.for_keyword("OmbudsSeverity")
CATEGORY = SearchAttributeKey.for_keyword("OmbudsCategory")
CHANNEL = SearchAttributeKey.for_keyword("OmbudsChannel")
POLICY_ID = SearchAttributeKey.for_keyword("OmbudsPolicyId")
POLICY_SHA = SearchAttributeKey.for_keyword("OmbudsPolicySha")
SLA_BREACHED = SearchAttributeKey.for_bool("OmbudsSlaBreached")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("OmbudsNextDeadline")

ALL = (STATUS, STAGE, LEVEL, SEVERITY, CATEGORY, CHANNEL, POLICY_ID, POLICY_SHA, SLA_BREACHED, NEXT_DEADLINE)

#: Name → Temporal type, as `temporal server start-dev --search-attribute` takes them.
TYPES = {
    key.name: {"KEYWORD": "Keyword", "BOOL": "Bool", "DATETIME": "Datetime"}[
        key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    ]
    for key in ALL
}
