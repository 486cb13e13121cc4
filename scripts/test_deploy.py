#!/usr/bin/env python3
"""`make lint`: `make deploy`'s questions (scripts/deploy.py) — Enter keeps what was saved, a
wrong choice is asked again, alerts must reach someone, and the parameters survive a round trip
through samconfig.toml, quotes and all."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy  # noqa: E402


def scripted(*lines):
    it = iter(lines)
    return lambda _prompt: next(it)


class Questions(unittest.TestCase):
    def test_enter_keeps_the_saved_answer_and_a_wrong_choice_is_asked_again(self):
        said = []
        saved = {"AlertEmail": "ops@example.com", "KillerMode": "enforce", "LakeDataBuckets": "acme-lake-*"}
        answers = deploy.ask(saved, True, scripted("", "", "etl=200", "", "Europe/Berlin", "kill", ""), said.append)
        self.assertEqual(answers["AlertEmail"], "ops@example.com")
        self.assertEqual(answers["DailyBudgetsUsd"], "etl=200")
        self.assertEqual(answers["Timezone"], "Europe/Berlin")
        self.assertEqual(answers["KillerMode"], "enforce")
        self.assertEqual(answers["LakeDataBuckets"], "acme-lake-*", "a parameter not asked is kept")
        self.assertTrue(any("dry-run, enforce" in s for s in said))

    def test_alerts_must_reach_someone(self):
        said = []
        answers = deploy.ask({}, True, scripted("", "", "", "", "", "", "ops@example.com", "", "", "", "", ""), said.append)
        self.assertEqual(answers["AlertEmail"], "ops@example.com")
        self.assertTrue(any("reach no one" in s for s in said))
        with self.assertRaises(SystemExit):
            deploy.ask({}, False)

    def test_parameters_survive_samconfig(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "samconfig.toml")
            params = {"AlertEmail": "ops@example.com", "SubscriptionFilterPattern": '{ $.level = "ERROR" }', "DailyBudgetsUsd": ""}
            deploy.write_config(path, params)
            self.assertEqual(deploy.read_overrides(path), params)
            cmds = deploy.commands(params)
            self.assertEqual(cmds[0], ["sam", "build", "--beta-features"])
            self.assertIn("AlertEmail=ops@example.com", cmds[1])
            self.assertNotIn("DailyBudgetsUsd=", cmds[1], "blank ones are left to the defaults")


if __name__ == "__main__":
    unittest.main()
