import copy

from mmengine.config import Config


class TextCachedConfig(Config):
    """A ``Config`` that formats its text once per content.

    mmengine's ``Runner`` asks for ``pretty_text`` for the log, the work
    dir's copy, the visualizer's copy and the meta of every checkpoint, and
    each time yapf formats the whole config again: seconds for an APC config
    on a small CPU, most of a short run's set-up. The formatted text is kept
    beside the plain dump of the content it was made from, and made again only
    when that changed.
    """

    @classmethod
    def of(cls, cfg) -> 'TextCachedConfig':
        """A deep copy of ``cfg`` (a ``Config`` or a plain dict)."""
        if not isinstance(cfg, Config):
            return cls(copy.deepcopy(dict(cfg)))
        return cls(copy.deepcopy(cfg.to_dict()), cfg_text=cfg.text, filename=cfg.filename,
                   env_variables=cfg.env_variables)

    @property
    def pretty_text(self) -> str:
        content = repr(self.to_dict())
        cached = self.__dict__.get('_text_cache')
        if cached is None or cached[0] != content:
            cached = (content, super().pretty_text)
            # Config's own __setattr__ writes into the config's content
            super(Config, self).__setattr__('_text_cache', cached)
        return cached[1]
