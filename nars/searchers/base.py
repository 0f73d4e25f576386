"""What every searcher of this project shares: Tune's metric and mode, and the value of a finished trial.

Ray's own `Searcher.set_search_properties` ignores Tune's metric and mode, so a searcher built without a
metric would never see a result; Tune calls this method only when the Tuner has a `param_space`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from ray.tune.search import Searcher

from nars.trial.keys import measured_value

if TYPE_CHECKING:
    from nars.searchers.request import SearchRequest


class MetricAwareSearcher(Searcher):
    """Takes the metric and mode of Tune's `TuneConfig` when the constructor left them unset."""

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        if self._metric is None:
            self._metric = metric
        if self._mode is None:
            self._mode = mode
        return True

    def measured_value(self, result: dict[str, Any] | None, error: bool = False) -> float | None:
        return measured_value(result, self.metric, error)

    @classmethod
    def from_request(cls, request: SearchRequest) -> Self:
        """The searcher a search asks for by name (`nars.searchers.request.build_searcher`)."""
        raise NotImplementedError
