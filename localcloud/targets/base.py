"""The interface every kind of rule target implements.

>>> from localcloud import arns
>>> class Nowhere(TargetKind):
...     name = "nowhere"
...     def accepts(self, arn): return arn.service == "nowhere"
...     def deliver(self, delivery, arn): return True
>>> Nowhere().accepts(arns.parse("arn:aws:nowhere:eu-west-1:1:x"))
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from localcloud.arns import Arn
from localcloud.delivery import Delivery


class TargetKind(ABC):
    """One kind of rule target: which target ARNs it takes, and how it delivers."""

    name: str

    @abstractmethod
    def accepts(self, arn: Arn) -> bool:
        """Is ``arn`` a target of this kind?"""

    @abstractmethod
    def deliver(self, delivery: Delivery, arn: Arn) -> bool:
        """Deliver, or raise DeliveryFailure (or ValueError for a malformed target).

        True: delivered now. False: the kind completes later and reports the outcome
        itself through the data plane's DeliveryReport (Lambda's asynchronous invocation).
        """
