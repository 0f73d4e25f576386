"""`CostSpec`: the frozen part of a detector config that decides what the deployed model costs.

It holds exactly the config fields marked `json_schema_extra=COST` in `detector/config.py` (the
architecture, norm, pooler, anchors, test-time proposal and detection counts, input size, classes),
read from the config rather than listed by hand: the cost cache key, the input of the part costs
and the config the latency model is rebuilt from are all this one object, so a knob that changes
the cost but is missing here cannot slip through (tests/search_spaces/test_cost_spec.py checks every searched
parameter against the built model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from core.nested import get_path, set_path
from detector.config import DetectorConfig, config_to_dict, load_config
from detector.modeling.backbones.fbnet import parse_detection_arch


@cache
def cost_fields(section: type[BaseModel] = DetectorConfig, prefix: str = "") -> tuple[str, ...]:
    """Dotted names of the config fields marked as cost-relevant, in declaration order."""
    fields: list[str] = []
    for name, info in section.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields += cost_fields(annotation, f"{prefix}{name}.")
        elif isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("cost"):
            fields.append(f"{prefix}{name}")
    return tuple(fields)


@dataclass(frozen=True)
class CostSpec:
    """Canonical JSON of the cost-relevant fields: equal specs give models of equal cost."""

    key: str

    @classmethod
    def of(cls, config: DetectorConfig, num_classes: int) -> CostSpec:
        """The spec of `config`; `num_classes` stands in where the config leaves it to the data."""
        data = config_to_dict(config)
        values = {field: get_path(data, field) for field in cost_fields()}
        values["model.arch"] = parse_detection_arch(values["model.arch"]).to_dict()  # a name and its dict agree
        values["model.num_classes"] = values["model.num_classes"] or num_classes
        return cls(json.dumps(values, sort_keys=True))

    @property
    def values(self) -> dict[str, Any]:
        return json.loads(self.key)

    def config(self) -> DetectorConfig:
        """A config that builds the model this spec describes (random weights, nothing frozen)."""
        data: dict[str, Any] = {"model": {"weights": None, "freeze_at": 0}}
        for field, value in self.values.items():
            set_path(data, field, value)
        return load_config(data)
