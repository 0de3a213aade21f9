"""What every technique stage shares."""


class NoFit:
    """Stages with nothing to learn and nothing to store beyond the spec and the seed."""

    def fit(self, x, seed):
        pass

    def export(self):
        return {}

    def load(self, arrays):
        pass
