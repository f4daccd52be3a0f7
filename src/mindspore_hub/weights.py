"""Putting checkpoint tensors into a network, strictly by default.

MindSpore's `load_param_into_net` only warns about network parameters it did not
fill and stops at the first shape or type mismatch. Here every parameter of the
network is checked first: in strict mode any missing name or wrong shape or dtype
raises one error that lists them all; checkpoint entries the network does not have
(optimizer moments, ``global_step``, ``learning_rate``) are always ignored.
``strict=False`` loads what fits and logs the rest.
"""

from __future__ import annotations

import logging

from .errors import HubError, WeightsMismatchError, mismatch_report

log = logging.getLogger(__name__)


def load_into(network, params: dict, strict: bool = True, source: str = "") -> list[str]:
    """Load `params` (name -> Parameter) into `network`; return the names loaded."""
    import mindspore

    wanted = network.parameters_dict()
    missing = [name for name in wanted if name not in params]
    mismatched = [(name, _describe(wanted[name]), _describe(params[name]))
                  for name in wanted if name in params and _describe(wanted[name]) != _describe(params[name])]
    if strict and (missing or mismatched):
        raise WeightsMismatchError(missing, mismatched, source)
    bad = {name for name, _, _ in mismatched}
    fitting = {name: params[name] for name in wanted if name in params and name not in bad}
    extra = sum(1 for name in params if name not in wanted)
    if missing or mismatched:
        log.warning("%s\nthese keep their initial values (strict=False)", mismatch_report(missing, mismatched, source))
    if extra:
        log.info("ignored %d checkpoint entries the network does not have (optimizer state and the like)", extra)
    not_loaded, _ = mindspore.load_param_into_net(network, fitting, strict_load=True)
    if not_loaded and strict:
        raise HubError(f"MindSpore did not load {len(not_loaded)} parameter(s): {', '.join(not_loaded)}")
    return sorted(fitting)


def _describe(parameter) -> str:
    return f"{tuple(parameter.shape)} {parameter.dtype}"
