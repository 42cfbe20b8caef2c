"""A keyword reward and scripted revisers for the curation tests (imported as python:tests.curation_helpers:...)."""

import re

KEYWORDS = re.compile(r"mention (\w+) and (\w+)")


def keyword_reward(prompts, responses, references):
    """The fraction of the prompt's two keywords that the response contains."""
    scores = []
    for prompt, response in zip(prompts, responses):
        wanted = KEYWORDS.search(prompt).groups()
        scores.append(sum(w in response.split() for w in wanted) / len(wanted))
    return scores


def nan_reward(prompts, responses):
    return [float("nan")] * len(responses)


def failing_reward(prompts, responses):
    raise RuntimeError("the reward service is down")


def revise_by_appending(prompt, original, reference):
    missing = [w for w in KEYWORDS.search(prompt).groups() if w not in original.split()]
    return original + " " + " ".join(missing)


def length_reward(prompts, responses):
    """Longer is better, up to ten words (for `figa eval` tests: any deterministic score will do)."""
    return [min(len(response.split()), 10) / 10 for response in responses]


def trl_keyword_reward(completions, prompts=None, **kwargs):
    """keyword_reward in the signature of TRL's reward functions (GRPOTrainer passes everything by keyword)."""
    return keyword_reward(prompts, completions, None)


def trl_reference_reward(completions, output, **kwargs):
    """TRL style, reading the reference answers (the SPA column `output`): 1 for a completion equal to it."""
    return [float(c == ref) for c, ref in zip(completions, output)]


def one_number_reward(prompts, responses):
    """A reward written wrongly: one number for the whole batch instead of one per response."""
    return 0.5


def numbered_reward(prompts, responses, references):
    """On a reward model's scale (about -8..8): the number in the prompt minus 8, plus 1 for an answer that says
    'revised'; so the rewards of a run are known by hand whatever the policy answers."""
    return [
        float(re.search(r"\d+", prompt).group()) - 8 + ("revised" in response.split())
        for prompt, response in zip(prompts, responses)
    ]


def revise_by_saying_revised(prompt, original, reference):
    return original + " revised"
