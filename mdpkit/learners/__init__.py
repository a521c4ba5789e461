"""Check your own algorithm: a learner protocol, an exact-audit harness, reference learners.

- :mod:`.protocol` -- what a learner may know (:class:`Setting`) and the methods the harness calls
  (:class:`EpisodicLearner`; :class:`RewardFreeLearner`, :class:`DuelingLearner` shapes).
- :mod:`.harness` -- :func:`run` (any episodic learner, exact per-episode values, regret, constraint
  audit, timings) and :func:`run_reward_free`; :mod:`.dueling` -- :func:`run_dueling` (preference
  games, one sampled comparison per round, exact KL to the equilibrium and exploitability).
- :mod:`.environment` -- the harness's episodes (the project simulator, UCBVI's random stream).
- reference learners, one per file: :class:`UCBVI` (plain Python), :class:`QLearningUCB`,
  :class:`PSRL`, :class:`EpsilonGreedy`; :mod:`.adapters`: :class:`NumbaUCBVI`, :class:`JitclassLearner`.

Example
-------
>>> import mdpkit
>>> from mdpkit import learners
>>> river = mdpkit.envs.riverswim(S=4, H=10)
>>> result = learners.run(learners.QLearningUCB(), river, K=200, seed=0, reward_info="observed")
>>> result.K
200
"""
from .adapters import JitclassLearner, NumbaUCBVI
from .dueling import DuelingAudit, run_dueling
from .epsilon_greedy import EpsilonGreedy
from .harness import RewardFreeAudit, make_setting, run, run_reward_free
from .protocol import REWARD_INFO, DuelingLearner, EpisodicLearner, PreferenceSetting, RewardFreeLearner, Setting
from .psrl import PSRL
from .q_learning_ucb import QLearningUCB
from .ucbvi import UCBVI

__all__ = ["DuelingAudit", "DuelingLearner", "EpisodicLearner", "EpsilonGreedy", "JitclassLearner", "NumbaUCBVI", "PSRL",
           "PreferenceSetting", "QLearningUCB", "REWARD_INFO", "RewardFreeAudit", "RewardFreeLearner", "Setting",
           "UCBVI", "make_setting", "run", "run_dueling", "run_reward_free"]
