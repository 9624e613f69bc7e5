"""Runs one integration test (or, with --list, prints the ids of every test in the given
modules) for ctest, from the suite's folder (ctest's working directory):
run_test.py --spillway BIN [--engine ENGINE] module.Class.test_name

Importable: the suite's folder, then the shared helpers of tests/integration/resilience
(resil) and tests/integration/proxy (harness)."""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spillway", default="")
    ap.add_argument("--engine", default="")
    ap.add_argument("--list", nargs="*", metavar="MODULE")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args()
    sys.dont_write_bytecode = True
    sys.path[:0] = [os.getcwd(), os.path.join(HERE, "resilience"), os.path.join(HERE, "proxy")]
    if args.list is not None:
        for mod in args.list:
            stack = [unittest.TestLoader().loadTestsFromName(mod)]
            while stack:
                s = stack.pop(0)
                if isinstance(s, unittest.TestSuite):
                    stack.extend(s)
                else:
                    print(s.id())
        return 0
    os.environ["SPILLWAY_BIN"] = args.spillway
    import harness
    harness.SPILLWAY_BIN = args.spillway
    if args.engine:
        os.environ["SPILLWAY_ENGINE_BIN"] = args.engine
        import engines
        engines.ENGINE_BIN = args.engine
    suite = unittest.TestLoader().loadTestsFromNames(args.tests)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if result.skipped and not (result.failures or result.errors):
        return 77  # ctest SKIP_RETURN_CODE
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
