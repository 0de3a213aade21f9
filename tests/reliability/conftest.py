"""The reliability suite's shared fixtures: the run's one SparkSession and the small test codec."""
import pytest

from . import inputs


@pytest.fixture(scope="session")
def spark(spark_session):
    """The suite-wide session (``local[2,3]``: task retries for the fault tests); never stopped here."""
    return spark_session


@pytest.fixture(scope="module")
def codec():
    return inputs.fit_codec()
