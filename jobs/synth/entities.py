"""Legal entities (法人): enterprises (USCC 9…) and social organisations (USCC 5…).

Enterprises are registered with market regulation (市场监管) and social organisations with civil
affairs (民政); every one has a legal representative (法定代表人) who is a person of the world,
a business address that is a standard address of the jurisdiction, a registered capital and a
status. Enterprise types follow the shares of a county register: mostly natural-person limited
companies, then sole proprietorships and farmers' cooperatives (农民专业合作社, USCC 93…).
Organisation codes are GB 11714 with their own check character; those of entities registered
after the 2015 reform start with MA, as real ones do.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from jobs.synth import keys
from jobs.synth.keys import USCC_ALPHABET
from jobs.synth.pools import Pools
from jobs.synth.regions import Jurisdiction

#: Enterprise types (企业类型): name, USCC entity-type character, share in a county register.
ENTERPRISE_TYPES: tuple[tuple[str, str, float], ...] = (
    ("有限责任公司(自然人投资或控股)", "1", 0.50),
    ("有限责任公司(自然人独资)", "1", 0.18),
    ("个人独资企业", "1", 0.09),
    ("股份有限公司(非上市、自然人投资或控股)", "1", 0.02),
    ("普通合伙企业", "1", 0.02),
    ("有限责任公司(国有独资)", "1", 0.02),
    ("农民专业合作社", "3", 0.17),
)
COOPERATIVE = len(ENTERPRISE_TYPES) - 1
#: Social organisation types (组织类型): name, USCC entity-type character, share.
SOCIAL_ORG_TYPES: tuple[tuple[str, str, float], ...] = (
    ("社会团体", "1", 0.45),
    ("民办非企业单位", "2", 0.50),
    ("基金会", "3", 0.05),
)
#: Industry sections (行业门类, GB/T 4754-2017): letter, share, name words, business scope.
INDUSTRIES: tuple[tuple[str, float, tuple[str, ...], str], ...] = (
    (
        "A",
        0.06,
        ("农业开发", "生态农业", "养殖"),
        "农作物种植；牲畜饲养；农产品初加工；农副产品销售",
    ),
    ("C", 0.15, ("机械制造", "食品", "建材", "服装", "家具"), "一般项目：产品加工、制造与销售"),
    ("E", 0.07, ("建筑工程", "建设工程", "装饰工程"), "建设工程施工；住宅室内装饰装修"),
    ("F", 0.30, ("商贸", "贸易", "百货", "农资"), "日用百货销售；五金产品零售；食品销售"),
    ("G", 0.04, ("物流", "运输"), "道路货物运输(不含危险货物)；普通货物仓储服务"),
    ("H", 0.07, ("餐饮管理", "酒店管理"), "餐饮服务；住宿服务"),
    ("I", 0.05, ("网络科技", "信息技术"), "软件开发；信息技术咨询服务；网络技术服务"),
    ("K", 0.03, ("房地产开发", "物业服务"), "房地产开发经营；物业管理"),
    ("L", 0.10, ("商务咨询", "企业管理"), "企业管理咨询；商务信息咨询；会议及展览服务"),
    ("M", 0.05, ("技术服务", "检测"), "技术服务、技术开发、技术咨询；检验检测服务"),
    ("O", 0.04, ("家政服务", "汽车维修"), "家政服务；机动车修理和维护"),
    ("P", 0.02, ("教育咨询", "文化培训"), "教育咨询服务(不含涉许可审批的教育培训活动)"),
    ("Q", 0.02, ("健康管理", "医疗器械"), "健康咨询服务(不含诊疗服务)；第一类医疗器械销售"),
    ("R", 0.04, ("文化传媒", "体育发展"), "组织文化艺术交流活动；广告设计、代理"),
)
_COOP_PRODUCTS = (
    "小麦种植",
    "蔬菜种植",
    "林果种植",
    "生猪养殖",
    "肉牛养殖",
    "食用菌种植",
    "农机服务",
)
_ORG_TOPICS = (
    ("协会", ("个体劳动者", "餐饮行业", "建筑业", "老年体育", "书法家", "摄影家", "志愿者")),
    ("商会", ("工商业联合", "豫商", "物流")),
)
_NON_ENTERPRISE = ("幼儿园", "职业技能培训学校", "养老服务中心", "社会工作服务中心", "康复中心")
_FOUNDATION_TOPICS = ("教育发展", "慈善", "见义勇为")
#: Entity kinds.
ENTERPRISE, SOCIAL_ORG, UNREGISTERED = 0, 1, 2
_MA_REFORM = datetime.date(2015, 10, 1).toordinal()


@dataclass
class Entities:
    """Grain: one entry per legal entity (USCC). ``kind`` says which register holds it;
    :data:`UNREGISTERED` entities hold a business licence but are missing from the register."""

    uscc: list[str]
    names: list[str]
    kind: np.ndarray
    type_index: np.ndarray  # into ENTERPRISE_TYPES or SOCIAL_ORG_TYPES by kind
    industry: np.ndarray  # into INDUSTRIES
    legal_rep: np.ndarray  # person number
    capital: np.ndarray  # 万元
    established: np.ndarray  # date ordinal
    status: list[str]  # entity_status code: active, revoked, deregistered
    status_on: np.ndarray  # date ordinal of the last status change
    updated: np.ndarray  # date ordinal of the last registered change (变更)
    unit: np.ndarray  # business unit
    size_weight: np.ndarray  # how many employees, relatively
    general_taxpayer: np.ndarray  # 一般纳税人 (else 小规模纳税人)
    tax_registered: np.ndarray
    licence_issued: np.ndarray
    licence_valid_to: np.ndarray  # 0 = 长期 (no end)

    def __len__(self) -> int:
        return len(self.uscc)

    def type_name(self, e: int) -> str:
        table = SOCIAL_ORG_TYPES if self.kind[e] == SOCIAL_ORG else ENTERPRISE_TYPES
        return table[self.type_index[e]][0]

    def append(self, **columns: np.ndarray | list) -> None:
        for column, values in columns.items():
            current = getattr(self, column)
            if isinstance(current, list):
                current.extend(values)
            else:
                setattr(self, column, np.concatenate([current, np.asarray(values, current.dtype)]))


def organisation_body(rng: np.random.Generator, established: int) -> str:
    """The 8-character body of an organisation code; MA… for entities after the 2015 reform."""
    if established >= _MA_REFORM:
        tail = rng.integers(0, len(USCC_ALPHABET), 6)
        return "MA" + "".join(USCC_ALPHABET[i] for i in tail)
    return f"{int(rng.integers(10_000_000, 99_999_999)):08d}"


class EntityFactory:
    """Makes entities one at a time (the initial register and the ones registered later) with
    unique names and USCCs."""

    def __init__(self, juris: Jurisdiction, pools: Pools, rng: np.random.Generator) -> None:
        self.juris = juris
        self.pools = pools
        self.rng = rng
        self.names: set[str] = set()
        self.codes: set[str] = set()

    def uscc(self, authority: str, entity_type: str, established: int) -> str:
        while True:
            body = organisation_body(self.rng, established)
            code = keys.uscc_code(authority, entity_type, self.juris.code, body)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def enterprise_name(self, type_index: int, industry: int) -> str:
        county = self.juris.county
        for attempt in range(200):
            trade = self.pools.trade_names[int(self.rng.integers(len(self.pools.trade_names)))]
            if attempt > 50:  # a long name space for large cities: three-character trade names
                trade += self.pools.trade_names[
                    int(self.rng.integers(len(self.pools.trade_names)))
                ][0]
            words = INDUSTRIES[industry][2]
            word = words[int(self.rng.integers(len(words)))]
            type_name = ENTERPRISE_TYPES[type_index][0]
            if type_index == COOPERATIVE:
                product = _COOP_PRODUCTS[int(self.rng.integers(len(_COOP_PRODUCTS)))]
                name = f"{county}{trade}{product}专业合作社"
            elif type_name == "个人独资企业":
                suffix = ("商行", "经营部", "加工厂")[int(self.rng.integers(3))]
                name = f"{county}{trade}{word}{suffix}"
            elif type_name.startswith("股份"):
                name = f"{self.juris.prefecture or county}{trade}{word}股份有限公司"
            elif type_name == "普通合伙企业":
                name = f"{county}{trade}{word}中心(普通合伙)"
            elif type_name.endswith("(国有独资)"):
                name = f"{county}{trade}投资发展有限公司"
            else:
                name = f"{county}{trade}{word}有限公司"
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("could not find a unique enterprise name")

    def social_org_name(self, type_index: int) -> str:
        county = self.juris.county
        for _ in range(200):
            trade = self.pools.trade_names[int(self.rng.integers(len(self.pools.trade_names)))]
            if type_index == 0:
                suffix, topics = _ORG_TOPICS[int(self.rng.integers(len(_ORG_TOPICS)))]
                topic = topics[int(self.rng.integers(len(topics)))]
                name = f"{county}{topic}{suffix}"
                if name in self.names:
                    name = f"{county}{trade}{topic}{suffix}"
            elif type_index == 1:
                name = f"{county}{trade}{_NON_ENTERPRISE[int(self.rng.integers(len(_NON_ENTERPRISE)))]}"
            else:
                topic = _FOUNDATION_TOPICS[int(self.rng.integers(len(_FOUNDATION_TOPICS)))]
                name = f"{county}{topic}基金会"
                if name in self.names:
                    name = f"{county}{trade}{topic}基金会"
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("could not find a unique social organisation name")


def build_entities(
    n_enterprises: int,
    n_social_orgs: int,
    n_unregistered: int,
    legal_rep_pool: np.ndarray,
    business_units: list[int],
    start_ord: int,
    factory: EntityFactory,
) -> Entities:
    """The initial registers (enterprises, social organisations) and the unregistered licence
    holders, with legal representatives drawn from ``legal_rep_pool`` (living adults).

    About 8 % of enterprises were deregistered (注销) and 3 % revoked (吊销) before the first
    delivery; they stay in the register with that status, as real registers keep them.
    """
    rng = factory.rng
    total = n_enterprises + n_social_orgs + n_unregistered
    kind = np.array(
        [ENTERPRISE] * n_enterprises
        + [SOCIAL_ORG] * n_social_orgs
        + [UNREGISTERED] * n_unregistered,
        np.int8,
    )
    ent_shares = np.array([t[2] for t in ENTERPRISE_TYPES])
    org_shares = np.array([t[2] for t in SOCIAL_ORG_TYPES])
    type_index = np.where(
        kind == SOCIAL_ORG,
        rng.choice(len(org_shares), total, p=org_shares / org_shares.sum()),
        rng.choice(len(ent_shares), total, p=ent_shares / ent_shares.sum()),
    ).astype(np.int8)
    industry_shares = np.array([i[1] for i in INDUSTRIES])
    industry = rng.choice(len(INDUSTRIES), total, p=industry_shares / industry_shares.sum())
    industry[(kind != SOCIAL_ORG) & (type_index == COOPERATIVE)] = 0  # cooperatives farm
    # registrations grew fast after the 2014 reform: skew establishment dates to recent years
    first = datetime.date(1995, 1, 1).toordinal()
    established = (first + (start_ord - 60 - first) * rng.random(total) ** 0.55).astype(np.int64)
    capital = rng.choice(
        np.array([3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000], float),
        total,
        p=np.array([4, 8, 14, 10, 8, 14, 16, 8, 5, 6, 4, 2, 1], float) / 100,
    )
    social = kind == SOCIAL_ORG
    foundations = social & (type_index == 2)
    capital[foundations] = rng.choice(
        np.array([200.0, 300.0, 400.0, 800.0]), int(foundations.sum())
    )
    uscc: list[str] = []
    names: list[str] = []
    for e in range(total):
        if kind[e] == SOCIAL_ORG:
            uscc.append(factory.uscc("5", SOCIAL_ORG_TYPES[type_index[e]][1], int(established[e])))
            names.append(factory.social_org_name(int(type_index[e])))
        else:
            uscc.append(factory.uscc("9", ENTERPRISE_TYPES[type_index[e]][1], int(established[e])))
            names.append(factory.enterprise_name(int(type_index[e]), int(industry[e])))
    status = ["active"] * total
    status_on = established.copy()
    fate = rng.random(total)
    closed_on = established + ((start_ord - 1 - established) * rng.uniform(0.3, 1.0, total)).astype(
        np.int64
    )
    for e in np.flatnonzero((kind == ENTERPRISE) & (fate < 0.08) & (start_ord - established > 400)):
        status[e] = "deregistered"
        status_on[e] = closed_on[e]
    for e in np.flatnonzero((kind == ENTERPRISE) & (fate > 0.97) & (start_ord - established > 400)):
        status[e] = "revoked"
        status_on[e] = closed_on[e]
    updated = np.where(
        rng.random(total) < 0.4,
        established + ((status_on - established) * rng.random(total)).astype(np.int64),
        established,
    )
    legal_rep = rng.choice(legal_rep_pool, total)
    units = np.array([business_units[e % len(business_units)] for e in range(total)], np.int64)
    valid_years = rng.choice(np.array([0, 0, 0, 0, 0, 0, 0, 20, 30, 50]), total)
    valid_to = established + valid_years * 365
    # an operating term (营业期限) that has already run out would be an expired licence, which
    # is a defect kind of its own: such terms are open-ended (长期) instead
    valid_to = np.where((valid_years > 0) & (valid_to > start_ord + 3 * 365), valid_to, 0)
    return Entities(
        uscc=uscc,
        names=names,
        kind=kind,
        type_index=type_index,
        industry=industry.astype(np.int8),
        legal_rep=legal_rep.astype(np.int64),
        capital=capital,
        established=established,
        status=status,
        status_on=status_on,
        updated=updated,
        unit=units,
        size_weight=rng.lognormal(0.0, 1.3, total),
        general_taxpayer=rng.random(total) < 0.15,
        tax_registered=np.minimum(established + rng.integers(1, 30, total), start_ord - 1),
        licence_issued=updated.copy(),
        licence_valid_to=valid_to.astype(np.int64),
    )
