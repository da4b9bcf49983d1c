"""Archive targets: the rule moto's CreateArchive makes keeps each matching event in the
archive, so that DescribeArchive counts it (EventBridge User Guide, "Archiving and
replaying events"). Replays run in moto, not through this data plane.
"""

from __future__ import annotations

from localcloud.arns import Arn
from localcloud.delivery import INVALID_PARAMETER, NO_RESOURCE, Delivery, DeliveryFailure
from localcloud.state import CloudState
from localcloud.targets.base import TargetKind


class ArchiveTarget(TargetKind):
    name = "archive"

    def __init__(self, state: CloudState) -> None:
        self.state = state

    def accepts(self, arn: Arn) -> bool:
        # moto's archive rule targets ``arn:aws:events:<region>:::``: no account.
        return arn.service == "events" and not arn.account

    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        archive = self.state.archive_of(delivery.target)
        if archive is None:
            raise DeliveryFailure(INVALID_PARAMETER, "not an archive target")
        if not self.state.archive_event(archive, delivery.event.envelope):
            raise DeliveryFailure(NO_RESOURCE, f"archive {archive.name} does not exist")
        return True
