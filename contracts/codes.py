"""Code lists shared by messages in and out (national platform codes where one exists)."""

from __future__ import annotations

from enum import StrEnum


class Insutype(StrEnum):
    """The two schemes the engine settles (险种类型 insutype 310 and 390). Other national insutype
    codes (policies/codes/insutype.csv) are refused unless a region's [codes.insutype] maps them."""

    STAFF = "310"  # 职工基本医疗保险
    RESIDENT = "390"  # 城乡居民基本医疗保险


class PersonType(StrEnum):
    """人员类别: who the person is within the scheme (ratios and waiting periods differ)."""

    IN_SERVICE = "in_service"  # 在职
    RETIRED = "retired"  # 退休
    FLEXIBLE = "flexible"  # 灵活就业
    ADULT = "adult"  # 城乡居民 成年
    STUDENT = "student"  # 学生
    CHILD = "child"  # 儿童
    ELDERLY = "elderly"  # 老年居民
    NEWBORN = "newborn"  # 新生儿


STAFF_PERSON_TYPES = frozenset({PersonType.IN_SERVICE, PersonType.RETIRED, PersonType.FLEXIBLE})


# med_type is a national code with its national meaning (policies/codes/med_type.csv); what a
# region does with each code is its policy's [codes.med_type] (engine.national_codes.MedCategory).


class InstitutionKind(StrEnum):
    """What an institution is, as the payer's registry says (engine.payer_registry.Institution.kind)."""

    HOSPITAL = "hospital"
    PRIMARY_CARE = "primary_care"  # 基层医疗机构
    INTERNET_HOSPITAL = "internet_hospital"  # 互联网医院
    RETAIL_PHARMACY = "retail_pharmacy"  # 定点零售药店
    DUAL_CHANNEL_PHARMACY = "dual_channel_pharmacy"  # 双通道药店


class ChargeLevel(StrEnum):
    """chrgitm_lv: catalogue class of a line item."""

    CLASS_A = "01"  # 甲类: all of it is policy-range
    CLASS_B = "02"  # 乙类: selfpay_prop of it is 先行自付 first
    CLASS_C = "03"  # 丙类 / outside the catalogue: 全自费


class ExcludedCategory(StrEnum):
    """Expenses no fund pays (004: 基金不予支付范围)."""

    WORK_INJURY = "work_injury"  # 应当从工伤保险基金中支付
    THIRD_PARTY = "third_party"  # 应当由第三人负担
    PUBLIC_HEALTH = "public_health"  # 应当由公共卫生负担
    OVERSEAS = "overseas"  # 在境外就医
    FITNESS = "fitness"  # 体育健身
    WELLNESS = "wellness"  # 养生保健消费
    HEALTH_CHECKUP = "health_checkup"  # 健康体检
    OTHER_CHANNEL = "other_channel"  # 有其他保障制度和经费渠道安排解决的医疗费用 (004)


class AidCategory(StrEnum):
    """医疗救助对象类别."""

    DESTITUTE = "destitute"  # 特困人员
    MIN_LIVING = "min_living"  # 低保对象
    RETURNED_TO_POVERTY = "returned_to_poverty"  # 返贫致贫人口
    MONITORED = "monitored"  # 防止返贫监测对象
    IMPOVERISHED_BY_ILLNESS = "impoverished_by_illness"  # 因病返贫致贫


class PhysicianTitle(StrEnum):
    RESIDENT = "resident"  # 住院医师
    ATTENDING = "attending"  # 主治医师
    ASSOCIATE_CHIEF = "associate_chief"  # 副主任医师
    CHIEF = "chief"  # 主任医师


class FamilyRelation(StrEnum):
    """家庭共济: whose account may pay — 配偶、父母、子女 (003); 近亲属 (000) adds 兄弟姐妹、祖父母、外祖父母、
    孙子女、外孙子女 (民法典 第一千零四十五条). Each policy lists the relations it allows."""

    SPOUSE = "spouse"  # 配偶
    PARENT = "parent"  # 父母
    CHILD = "child"  # 子女
    SIBLING = "sibling"  # 兄弟姐妹
    GRANDPARENT = "grandparent"  # 祖父母、外祖父母
    GRANDCHILD = "grandchild"  # 孙子女、外孙子女


class FundPayType(StrEnum):
    """fund_pay_type of a setldetail row."""

    STAFF_POOLED = "310100"
    STAFF_ACCOUNT = "310200"
    STAFF_LARGE_AMOUNT = "330100"
    RESIDENT_POOLED = "390100"
    RESIDENT_MAJOR_ILLNESS = "390200"
    MEDICAL_AID = "610100"


class RejectionCode(StrEnum):
    """Stable machine codes of rejections.v1; the sentence beside each says what to fix."""

    MALFORMED_JSON = "malformed_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    UNKNOWN_POLICY = "unknown_policy"
    UNKNOWN_PERSON = "unknown_person"
    SCHEME_MISMATCH = "scheme_mismatch"
    ITEM_AMOUNT_MISMATCH = "item_amount_mismatch"
    CHRONIC_DISEASE_NOT_REGISTERED = "chronic_disease_not_registered"
    FAMILY_ACCOUNT_NOT_ALLOWED = "family_account_not_allowed"
    REVERSAL_OF_UNKNOWN_SETTLEMENT = "reversal_of_unknown_settlement"
    ALREADY_REVERSED = "already_reversed"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    VISIT_ALREADY_SETTLED = "visit_already_settled"
    NO_PERSONAL_ACCOUNT = "no_personal_account"
    ACCOUNT_MONTH_ALREADY_CREDITED = "account_month_already_credited"
    OUTSIDE_POLICY_YEAR = "outside_policy_year"
    OPENING_BALANCE_ALREADY_SPENT = "opening_balance_already_spent"  # an enrolment correction would overdraw
    CONTRIBUTION_ALREADY_RECORDED = "contribution_already_recorded"  # the year's / month's is in the ledger
    NOT_AUTHORISED = "not_authorised"  # the sender's principal may not send this (another institution's claim)
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"  # claims.v1 / enrolments.v1: migrate to v2
    UNMAPPED_CODE = "unmapped_code"  # a national or local code the region's policy does not map
    NOT_SETTLED_HERE = "not_settled_here"  # e.g. maternity (生育): another scheme settles it
    INSTITUTION_NOT_DESIGNATED = "institution_not_designated"  # not in the payer's registry that day
    DUAL_CHANNEL_NOT_DESIGNATED = "dual_channel_not_designated"  # "三定" not met, and the policy rejects
    REFUND_LINE_UNMATCHED = "refund_line_unmatched"  # a refund line without its original line
    INVARIANT_BROKEN = "invariant_broken"  # a bug: nothing recorded, operators alerted
    # The service failed on this message several times while its database and broker were
    # healthy: answered so the partition moves on, copied to the dead-letter topic, re-driven
    # after a fix (docs/operations.md, "Dead letters").
    INTERNAL_ERROR = "internal_error"
