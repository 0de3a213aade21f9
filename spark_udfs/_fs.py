"""Small files next to Spark outputs (sidecar JSON, codec artifacts) through Hadoop's FileSystem,
so the same code works for local paths, HDFS and object stores."""
from __future__ import annotations


def _fs_path(spark, path: str):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jpath


def join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:]])


def exists(spark, path: str) -> bool:
    fs, p = _fs_path(spark, path)
    return bool(fs.exists(p))


def write_bytes(spark, path: str, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path``; an existing file is an error unless ``overwrite``."""
    fs, p = _fs_path(spark, path)
    if fs.exists(p) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass mode='overwrite' to replace it")
    out = fs.create(p, True)
    try:
        out.write(bytearray(data))
    finally:
        out.close()


def read_bytes(spark, path: str) -> bytes:
    fs, p = _fs_path(spark, path)
    if not fs.exists(p):
        raise FileNotFoundError(f"{path} does not exist")
    size = fs.getFileStatus(p).getLen()
    stream = fs.open(p)
    try:
        jvm = spark.sparkContext._jvm
        buf = jvm.java.io.ByteArrayOutputStream()
        jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, buf, 1 << 16, False)
        data = bytes(buf.toByteArray())
    finally:
        stream.close()
    if len(data) != size:
        raise IOError(f"{path}: read {len(data)} bytes, expected {size}")
    return data


def partition_columns(spark, path: str) -> list:
    """Hive-style partition columns (``key=value`` directories) under ``path``, outermost first."""
    fs, p = _fs_path(spark, path)
    cols = []
    while fs.exists(p) and fs.getFileStatus(p).isDirectory():
        subdirs = [s.getPath() for s in fs.listStatus(p) if s.isDirectory() and "=" in s.getPath().getName()
                   and not s.getPath().getName().startswith(("_", "."))]
        if not subdirs:
            break
        cols.append(subdirs[0].getName().split("=", 1)[0])
        p = subdirs[0]
    return cols
