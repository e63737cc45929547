"""Whether a command that scores rows logs them, and under which registered model name."""

from __future__ import annotations

from mlwright.errors import ConfigError

__all__ = ["log_name"]


def log_name(
    registered: str | None,
    where: str,
    *,
    enabled: bool,
    log: bool | None,
    log_as: str | None,
    verb: str,
) -> str | None:
    """The model name a run's predictions are logged under, or None when it does not log.

    A registry reference (``registered`` is its model's name) logs under that name unless turned
    off (``log`` False, or ``enabled`` False from ``[prediction_log]``); a model folder (``where``)
    logs only under ``log_as``, a model registered in the registry. ``verb`` names the command
    in messages ("serve", "predict with").
    """
    on = enabled if log is None else log
    if registered is not None:
        if log_as is not None and log_as != registered:
            raise ConfigError(
                f"--log-as {log_as} is for model folders; {where} logs under its own name "
                f"'{registered}'. Drop --log-as."
            )
        return registered if on else None
    if log_as is None:
        if log:
            raise ConfigError(
                f"--log needs a registered model name for the folder {where}; expected "
                f"--log-as NAME (a model registered in --registry), or {verb} NAME@ALIAS."
            )
        return None
    return None if log is False else log_as
