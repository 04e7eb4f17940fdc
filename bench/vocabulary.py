"""The invented words the generator (`bench.generator`) builds posts from.

People, relations, estates, symptoms, stories, offers and remarks: none is taken from a
real post. Need phrases follow the taxonomy's needs; urgency cues its levels.
"""

from __future__ import annotations

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏苏吕丁"
)
GIVEN = "秀英明华建国丽芳伟强敏静军洋勇艳杰涛超霞平刚桂兰玉珍凤琴云莲红梅娟"
RELATIONS = ["我父亲", "我母亲", "我丈夫", "我妻子", "我舅舅", "我姑姑", "我哥哥", "我"]
ESTATES = [
    "幸福花园",
    "阳光小区",
    "东方家园",
    "滨江苑",
    "建设新村",
    "铁路宿舍",
    "锦绣华庭",
    "长江花园",
    "金色港湾",
    "百合苑",
]

#: Phrases that make each need, in the taxonomy's sense.
NEED_PHRASES: dict[str, list[str]] = {
    "bed": [
        "社区登记后一直没有床位，求收治",
        "社区登记{d}天了还是没有床位",
        "排了{n}个小时也住不进医院，求收治",
        "急需住院治疗，求一个床位",
        "请求安排定点医院收治",
        "方舱医院排不上，求帮助入院",
    ],
    "testing": [
        "医院做不了核酸检测，无法确诊",
        "排了两天队还没做上CT，求检测",
        "需要核酸检测确诊",
        "社区说核酸名额要等{d}天，求尽快确诊",
    ],
    "medicine": [
        "降压药吃完了，药店买不到，求药",
        "需要胰岛素，家里没有了",
        "求奥司他韦，附近药店都没有",
        "需要制氧机，老人缺氧",
        "家里的降压药只够{d}天了，求药",
    ],
    "urgent_care": [
        "尿毒症病人需要透析，医院停了透析",
        "化疗已经推迟两周，求医院接收",
        "孕妇38周，产检医院不接收，求助",
        "老人突发脑梗，求急诊",
    ],
    "supplies": [
        "社区医院缺口罩和防护服，求捐助",
        "我们志愿者车队缺消毒液和护目镜",
        "卫生院医护人员没有防护服",
    ],
    "food": [
        "家里没有菜了，求帮忙买菜",
        "小区封闭，买不到米和油",
        "孩子的奶粉快吃完了，求助",
        "小区封了{d}天，家里没有菜了",
    ],
    "transport": [
        "没有车去医院，求志愿者接送",
        "医护人员下夜班没有车回家，求车",
        "需要车辆把病人送到发热门诊",
    ],
    "special_care": [
        "家里老人独居，子女都被隔离了，无人照顾",
        "父亲瘫痪在床，母亲住院了，无人照看",
        "孩子一个人在家，父母都在隔离点",
    ],
    "mental": ["整夜失眠，非常恐慌，需要心理疏导", "亲人去世后一直很焦虑，想找人聊聊"],
    "pets": ["回老家过年，猫被锁在家里十多天了，求上门喂猫", "家里的狗没人喂，求志愿者帮忙"],
    "other": ["想问一下遗体怎么处理", "求助咨询补贴政策"],
}
NEED_WEIGHTS = {
    "bed": 40,
    "testing": 14,
    "medicine": 8,
    "urgent_care": 4,
    "supplies": 4,
    "food": 8,
    "transport": 5,
    "special_care": 8,
    "mental": 3,
    "pets": 2,
    "other": 2,
}
CRITICAL_CUES = ["呼吸困难", "血氧{o}%", "已经昏迷", "医生说病危", "喘不上气"]
HIGH_CUES = ["发烧{d}天", "持续高烧{d}天", "咳嗽{d}天越来越重"]
SYMPTOMS = [
    "咳嗽",
    "胸闷",
    "乏力",
    "腹泻",
    "CT显示双肺磨玻璃影",
    "食欲差",
    "头疼",
    "浑身酸痛",
    "嗓子疼",
    "恶心",
    "没有味觉",
    "怕冷",
    "四肢无力",
    "体温{t}度",
]
#: Neutral free text (no need or urgency cue): when it began, who the family are, what was
#: tried. Real posts tell their own story; without it unrelated generated posts shared far
#: more of their text (and so LSH bands) than real ones do.
ONSETS = [
    "{m}月{d}日开始",
    "{d}天前开始",
    "从上周{w}开始",
    "除夕那天开始",
    "大年初{i}开始",
    "从{m}月中旬起",
    "{d}号晚上开始",
]
STORY = [
    "家住{f}楼",
    "全家{n}口人",
    "老伴今年{a}岁",
    "儿子在外地上班回不来",
    "女儿刚满{n}岁",
    "之前身体一直很好",
    "有高血压{d}年了",
    "平时有糖尿病",
    "退休前是{job}",
    "一家人急得团团转",
    "打了{n}个电话都没人接",
    "已经等了{d}天",
    "楼里还有{n}户人家",
    "我们住在{estate}{f}栋",
    "爱人也开始{symptom}",
    "{m}月{d}日去过一次{district}",
    "家里只剩{n}个口罩了",
    "社区说再等等",
    "网格员记下了名字",
    "街道的电话一直占线",
    "我在外地干着急",
    "老人不会用手机",
]
JOBS = ["老师", "工人", "司机", "会计", "医生", "厨师", "保安", "护士", "售货员", "公务员"]
WEEKDAYS = "一二三四五六日"
CLOSINGS = [
    "拜托了",
    "万分感谢",
    "跪谢好心人",
    "希望有人看到",
    "谢谢各位",
    "麻烦大家",
    "感激不尽",
    "",
]
OFFERS = [
    "我们车队有{n}辆车，可以免费接送医护人员",
    "有一批口罩可以捐给社区，请联系",
    "心理咨询师，可以免费提供电话心理疏导",
    "{estate}业主群凑了{n}箱消毒液，可以免费送给社区，如有需要请联系",
    "本人有车，{district}范围内可以免费接送医护人员上下班",
    "我们餐馆每天可以提供{n}份盒饭，有需要的医院请联系",
    "公司有{n}台制氧机可以无偿提供",
    "志愿者团队{n}人，可以帮忙给老人买菜送药，如有需要请联系",
]
UPDATES = [
    "更新：已经住院了，谢谢大家的帮助",
    "已解决，已经收治，感谢",
    "老人今天凌晨走了，谢谢大家",
    "还在等床位，请继续帮忙转发",
]
#: Posts that are not requests, built from parts so that they are varied, as they are in a
#: real crawl; a slogan alone still repeats now and then.
SLOGANS = ["武汉加油！", "中国加油！", "湖北挺住！", "致敬医护人员！", "一定会好起来的。"]
REMARKS = [
    "今天的新闻发布会说新增病例在下降",
    "大家出门一定要戴口罩",
    "在家第{d}天，追完了{n}部剧",
    "{district}的樱花应该快开了吧",
    "楼下超市今天开门了，排了{n}个人",
    "小区里很安静，只听见鸟叫",
    "看到{n}岁的老医生还在一线，很感动",
    "{m}月{d}日，窗外下雨了",
    "隔壁邻居送来{n}个鸡蛋",
    "今天学会了做{dish}",
    "在家办公第{d}天",
]
DISHES = ["热干面", "豆皮", "面窝", "排骨藕汤", "蛋酒", "糊汤粉", "馒头", "红烧肉"]
COMMENTS = ["求扩散！", "帮转，", "太急了，大家帮帮忙", "转发求助："]
SOURCES = ["weibo", "forum", "board", "sheet", "rss"]
