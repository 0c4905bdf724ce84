"""Pools of names, roads and trade names drawn once from Faker's zh_CN locale.

Faker costs tens of microseconds per call, far too slow for a million rows; the generator draws
each pool once with a seeded Faker and then samples indices from the pools with numpy, which is
both fast and deterministic. Every entry is checked to be encodable in GBK, because several
departments deliver GBK files and a name outside GBK would make a valid row unwritable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker
from faker.providers.company.zh_CN import Provider as CompanyProvider
from faker.providers.person.zh_CN import Provider as PersonProvider
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider

#: Homophones (同音字) of the characters in Faker's zh_CN given names: same pinyin, usually the
#: same tone, and a plausible name character, which is how clerks mistype names they hear.
HOMOPHONES: dict[str, str] = {
    "东": "冬", "冬": "东", "丹": "单", "丽": "莉", "莉": "丽", "云": "芸", "亮": "谅",
    "伟": "玮", "佳": "嘉", "俊": "骏", "倩": "茜", "健": "建", "建": "健", "兰": "岚",
    "兵": "冰", "军": "君", "凤": "奉", "凯": "恺", "刚": "钢", "利": "力", "勇": "永",
    "华": "桦", "博": "柏", "国": "帼", "坤": "昆", "娜": "纳", "娟": "鹃", "婷": "庭",
    "宁": "凝", "宇": "雨", "小": "晓", "岩": "妍", "峰": "锋", "帆": "凡", "平": "萍",
    "萍": "平", "强": "蔷", "彬": "斌", "斌": "彬", "志": "智", "慧": "惠", "成": "诚",
    "敏": "闵", "文": "雯", "旭": "煦", "明": "鸣", "春": "椿", "晨": "辰", "晶": "菁",
    "杨": "阳", "阳": "杨", "杰": "洁", "洁": "杰", "林": "琳", "琳": "林", "桂": "贵",
    "梅": "玫", "楠": "南", "欣": "馨", "波": "玻", "洋": "扬", "浩": "皓", "涛": "韬",
    "淑": "姝", "燕": "艳", "艳": "燕", "玉": "钰", "玲": "铃", "珍": "真", "琴": "勤",
    "瑜": "渝", "瑞": "睿", "璐": "露", "磊": "垒", "秀": "绣", "红": "虹", "芝": "枝",
    "芳": "方", "英": "瑛", "荣": "蓉", "莹": "盈", "辉": "晖", "金": "今", "鑫": "欣",
    "雷": "蕾", "霞": "侠", "静": "婧", "颖": "影", "飞": "菲", "香": "湘", "鹏": "朋",
    "龙": "隆",
}  # fmt: skip

#: Characters for trade names (字号) of enterprises, paired two at a time.
_TRADE_CHARS = (
    "鑫盛华泰恒嘉祥瑞宏达源丰利兴隆昌佳诚信德福润博通远金正安康顺永益创新海天明宇辰中豪立同力"
)
#: Names of urban communities (社区) and sub-districts (街道): the commonest real ones.
URBAN_STEMS = (
    "城关", "东关", "西关", "南关", "北关", "朝阳", "建设", "人民", "和平", "新华", "文化",
    "胜利", "解放", "健康", "光明", "幸福", "滨河", "花园", "东城", "西城", "南城", "北城",
    "新区", "永安", "长安", "友谊", "团结", "繁荣", "兴业", "振兴",
)  # fmt: skip
#: Place-name endings of villages (村) and towns (镇) on the North China plain.
_VILLAGE_ENDINGS = "庄营寨屯集店岗庙桥楼湾坡"


def _gbk_ok(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _cjk_only(text: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" for c in text)


@dataclass(frozen=True)
class Pools:
    """Sampled vocabularies; indices into these lists are what the world stores."""

    surnames: tuple[str, ...]
    surname_weights: np.ndarray
    given_male: tuple[str, ...]
    given_female: tuple[str, ...]
    roads: tuple[str, ...]
    trade_names: tuple[str, ...]
    phone_prefixes: tuple[int, ...]

    #: Male then female given names; a person stores one index into this tuple.
    givens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "givens", self.given_male + self.given_female)

    def village(self, rng: np.random.Generator) -> str:
        """A village name such as 张庄: a common surname and a place-name ending."""
        surname = self.surnames[int(rng.choice(len(self.surnames), p=self.surname_weights))]
        return surname + _VILLAGE_ENDINGS[int(rng.integers(len(_VILLAGE_ENDINGS)))]


def build_pools(seed: int, n_roads: int) -> Pools:
    """Draws the pools once; the same seed gives the same pools.

    Args:
        seed: the generation seed; Faker is seeded from it.
        n_roads: how many distinct road names (街路巷) the jurisdiction needs.
    """
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    surnames = [s for s in PersonProvider.last_names if _gbk_ok(s)]
    weights = np.array([PersonProvider.last_names[s] for s in surnames], dtype=float)
    given_male = tuple(dict.fromkeys(n for n in PersonProvider.first_names_male if _gbk_ok(n)))
    given_female = tuple(dict.fromkeys(n for n in PersonProvider.first_names_female if _gbk_ok(n)))
    roads: dict[str, None] = {}
    # Faker repeats itself; stop after enough attempts so a huge request cannot spin forever.
    for _ in range(n_roads * 4):
        if len(roads) >= n_roads:
            break
        road = fake.street_name()
        if _cjk_only(road) and _gbk_ok(road) and len(road) <= 5:
            roads[road] = None
    road_list = tuple(roads)
    prefixes = [
        p[:2]
        for p in CompanyProvider.company_prefixes
        if _cjk_only(p) and _gbk_ok(p) and "公司" not in p
    ]
    pairs = [a + b for a in _TRADE_CHARS for b in _TRADE_CHARS if a != b]
    trade_names = tuple(dict.fromkeys(prefixes + pairs))
    return Pools(
        surnames=tuple(surnames),
        surname_weights=weights / weights.sum(),
        given_male=given_male,
        given_female=given_female,
        roads=road_list,
        trade_names=trade_names,
        phone_prefixes=tuple(int(p) for p in PhoneProvider.phonenumber_prefixes),
    )


def homophone_of(name: str, surname_length: int = 1) -> str | None:
    """The name with one given-name character replaced by a homophone, or None if none fits.

    Only the given name changes: a mistyped surname would usually be caught at the counter.
    """
    for position in range(len(name) - 1, surname_length - 1, -1):
        replacement = HOMOPHONES.get(name[position])
        if replacement:
            return name[:position] + replacement + name[position + 1 :]
    return None
