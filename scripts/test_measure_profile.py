"""Checks of scripts/measure-profile.py that need no GPU and no PyTorch.

Run: python3 -m unittest discover -s scripts -p 'test_*.py'
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "measure-profile.py")
spec = importlib.util.spec_from_file_location("measure_profile", SCRIPT)
mp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mp)


class Catalog(unittest.TestCase):
    def test_parameter_counts_match_the_published_ones(self):
        # Llama-3.1-8B has 8.03 billion parameters; Llama-3.2-1B 1.24 billion (tied embeddings).
        self.assertAlmostEqual(mp.load_shape(mp.DEFAULT_CATALOG, "llama-3.1-8b").params() / 1e9, 8.03, 2)
        self.assertAlmostEqual(mp.load_shape(mp.DEFAULT_CATALOG, "llama-3.2-1b").params() / 1e9, 1.24, 2)

    def test_every_dense_catalog_model_loads(self):
        import tomllib

        with open(mp.DEFAULT_CATALOG, "rb") as f:
            entries = tomllib.load(f)["model"]
        for e in entries:
            if e.get("experts", 1) > 1:
                with self.assertRaises(SystemExit) as c:
                    mp.load_shape(mp.DEFAULT_CATALOG, e["id"])
                self.assertIn("mixture of experts", str(c.exception))
            elif e.get("bytes_per_weight", 2) == 2:
                self.assertGreater(mp.load_shape(mp.DEFAULT_CATALOG, e["id"]).params(), 0)

    def test_an_unknown_model_lists_the_catalog(self):
        with self.assertRaises(SystemExit) as c:
            mp.load_shape(mp.DEFAULT_CATALOG, "llama-9")
        self.assertIn("no model `llama-9`", str(c.exception))
        self.assertIn("llama-3.1-8b", str(c.exception))

    def test_kv_bytes(self):
        s = mp.load_shape(mp.DEFAULT_CATALOG, "llama-3.1-8b")
        # 32 layers x K and V x 8 KV heads x 128 x 2 bytes = 128 KiB per token.
        self.assertEqual(s.kv_bytes(1, 1), 131072)


class Output(unittest.TestCase):
    def test_the_csv_is_written_whole_under_its_name(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "decode.csv")
            mp.write_csv(path, ["model", "params_gb", "batch", "context", "ms"], [["m", "1.00", 1, 128, "1.5000"]])
            with open(path) as f:
                self.assertEqual(f.read(), "model,params_gb,batch,context,ms\nm,1.00,1,128,1.5000\n")
            self.assertEqual(os.listdir(d), ["decode.csv"])

    def test_bad_lists_are_refused(self):
        import argparse

        self.assertEqual(mp.int_list("1,2,8"), [1, 2, 8])
        for bad in ["", "0", "a,b"]:
            with self.assertRaises(argparse.ArgumentTypeError):
                mp.int_list(bad)

    def test_help_runs_without_pytorch(self):
        r = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--model", r.stdout)


if __name__ == "__main__":
    unittest.main()
