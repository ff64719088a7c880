"""Writes ``stations.csv``, the city-scale part of the Chongqing demo, reproducibly.

The places are real neighbourhoods, roads and landmarks of Chongqing's central districts;
house numbers, opening hours and services are drawn from a fixed seed, so running this
again writes the same file.  Run from the repository root:

    python -m webapp.demo_data.make_stations
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["code", "name", "name_en", "district", "parent", "address", "landmark", "hours", "phone",
          "water", "toilet", "microwave", "charging_piles", "car_parking",
          "motorcycle_parking", "open"]

# district name, code prefix, [(area, road, landmark, kind of station)]
PLACES = [
    ("渝中区", "yz", [
        ("解放碑步行街", "邹容路", "解放碑纪念碑北侧", "工会驿站"),
        ("朝天门", "朝东路", "来福士广场", "户外劳动者驿站"),
        ("七星岗", "中山一路", "通远门城墙", "工会驿站"),
        ("上清寺", "中山四路", "人民大礼堂", "爱心驿站"),
        ("两路口", "中山三路", "皇冠大扶梯", "工会驿站"),
        ("化龙桥", "虎踞路", "重庆天地", "新就业形态劳动者驿站"),
        ("石油路", "石油路", "万象城", "骑手之家"),
        ("菜园坝", "南区路", "菜园坝火车站", "户外劳动者驿站"),
        ("鹅岭", "长江一路", "鹅岭二厂", "工会驿站"),
    ]),
    ("江北区", "jb", [
        ("观音桥商圈", "建新东路", "观音桥步行街", "工会驿站"),
        ("江北嘴", "江北城西大街", "重庆大剧院", "户外劳动者驿站"),
        ("五里店", "五里店正街", "五里店立交", "工会驿站"),
        ("大石坝", "大石坝东路", "九街高屋", "骑手之家"),
        ("石马河", "南桥寺路", "石马河公园", "爱心驿站"),
        ("寸滩", "寸滩街道港城路", "寸滩港", "新就业形态劳动者驿站"),
        ("鱼嘴", "鱼嘴镇复兴街", "鱼嘴站", "工会驿站"),
        ("郭家沱", "郭家沱正街", "郭家沱长江大桥", "户外劳动者驿站"),
    ]),
    ("沙坪坝区", "spb", [
        ("三峡广场", "小龙坎新街", "三峡广场步行街", "工会驿站"),
        ("磁器口", "磁南街", "磁器口古镇", "户外劳动者驿站"),
        ("大学城", "大学城中路", "熙街", "骑手之家"),
        ("西永", "西永大道", "西永微电园", "新就业形态劳动者驿站"),
        ("井口", "井口正街", "井口工业园", "工会驿站"),
        ("双碑", "双碑正街", "双碑轻轨站", "爱心驿站"),
        ("陈家桥", "陈家桥大道", "陈家桥医院", "工会驿站"),
        ("天星桥", "天陈路", "重庆师范大学", "户外劳动者驿站"),
    ]),
    ("九龙坡区", "jlp", [
        ("杨家坪商圈", "杨家坪正街", "杨家坪步行街", "工会驿站"),
        ("谢家湾", "谢家湾正街", "华润万象城", "户外劳动者驿站"),
        ("石桥铺", "石杨路", "石桥铺电脑城", "工会驿站"),
        ("二郎", "科园一路", "二郎科技新城", "新就业形态劳动者驿站"),
        ("黄桷坪", "黄桷坪正街", "四川美术学院涂鸦街", "爱心驿站"),
        ("西彭", "西彭镇铝城大道", "西南铝业", "工会驿站"),
        ("白市驿", "白市驿镇驿都大道", "白市驿机场", "户外劳动者驿站"),
        ("袁家岗", "袁茄路", "奥体中心", "骑手之家"),
    ]),
    ("南岸区", "na", [
        ("南坪商圈", "南坪西路", "万达广场", "工会驿站"),
        ("弹子石", "泰昌路", "弹子石老街", "户外劳动者驿站"),
        ("四公里", "江南大道", "四公里交通枢纽", "骑手之家"),
        ("茶园", "通江大道", "茶园新区", "新就业形态劳动者驿站"),
        ("铜元局", "铜元局正街", "长江大桥南桥头", "工会驿站"),
        ("涂山", "涂山路", "涂山湖", "爱心驿站"),
        ("南山", "南山路", "一棵树观景台", "工会驿站"),
    ]),
    ("渝北区", "yb", [
        ("龙头寺", "龙华大道", "重庆北站南广场", "户外劳动者驿站"),
        ("新牌坊", "新南路", "新牌坊地铁站", "工会驿站"),
        ("回兴", "宝环路", "回兴轻轨站", "骑手之家"),
        ("两路", "双龙大道", "空港广场", "工会驿站"),
        ("礼嘉", "礼嘉大道", "礼嘉天街", "新就业形态劳动者驿站"),
        ("照母山", "星光大道", "照母山森林公园", "爱心驿站"),
        ("光电园", "金渝大道", "光电园", "工会驿站"),
        ("人和", "人和大道", "人和街道办事处", "户外劳动者驿站"),
        ("空港", "空港大道", "江北国际机场T3", "工会驿站"),
    ]),
    ("巴南区", "bn", [
        ("鱼洞", "龙洲大道", "巴南万达广场", "工会驿站"),
        ("李家沱", "李家沱正街", "李家沱长江大桥", "户外劳动者驿站"),
        ("龙洲湾", "龙洲湾大道", "龙洲湾轻轨站", "骑手之家"),
        ("界石", "界石镇界石路", "公路物流基地", "新就业形态劳动者驿站"),
        ("南泉", "南泉镇虎啸口", "南温泉公园", "爱心驿站"),
        ("花溪", "花溪街道工业园路", "花溪工业园", "工会驿站"),
    ]),
    ("北碚区", "bb", [
        ("北碚城区", "北京路", "北碚中山路步行街", "工会驿站"),
        ("天生", "天生路", "西南大学", "户外劳动者驿站"),
        ("蔡家", "蔡家大道", "蔡家组团", "新就业形态劳动者驿站"),
        ("歇马", "歇马镇歇马大道", "歇马隧道", "工会驿站"),
        ("水土", "水土镇云汉大道", "水土高新园", "骑手之家"),
        ("缙云山", "缙云山路", "缙云山景区", "爱心驿站"),
    ]),
    ("大渡口区", "ddk", [
        ("九宫庙", "松青路", "九宫庙商圈", "工会驿站"),
        ("双山", "双山路", "义渡公园", "户外劳动者驿站"),
        ("钓鱼嘴", "钓鱼嘴大道", "钓鱼嘴音乐半岛", "新就业形态劳动者驿站"),
    ]),
]
# English name of each area and kind of station, for the name_en column.
AREA_EN = {
    "解放碑步行街": "Jiefangbei Pedestrian Street", "朝天门": "Chaotianmen", "七星岗": "Qixinggang",
    "上清寺": "Shangqingsi", "两路口": "Lianglukou", "化龙桥": "Hualongqiao", "石油路": "Shiyou Road",
    "菜园坝": "Caiyuanba", "鹅岭": "Eling", "观音桥商圈": "Guanyinqiao Shopping District",
    "江北嘴": "Jiangbeizui", "五里店": "Wulidian", "大石坝": "Dashiba", "石马河": "Shimahe",
    "寸滩": "Cuntan", "鱼嘴": "Yuzui", "郭家沱": "Guojiatuo", "三峡广场": "Sanxia Square",
    "磁器口": "Ciqikou", "大学城": "University Town", "西永": "Xiyong", "井口": "Jingkou",
    "双碑": "Shuangbei", "陈家桥": "Chenjiaqiao", "天星桥": "Tianxingqiao",
    "杨家坪商圈": "Yangjiaping Shopping District", "谢家湾": "Xiejiawan", "石桥铺": "Shiqiaopu",
    "二郎": "Erlang", "黄桷坪": "Huangjueping", "西彭": "Xipeng", "白市驿": "Baishiyi",
    "袁家岗": "Yuanjiagang", "南坪商圈": "Nanping Shopping District", "弹子石": "Danzishi",
    "四公里": "Sigongli", "茶园": "Chayuan", "铜元局": "Tongyuanju", "涂山": "Tushan",
    "南山": "Nanshan", "龙头寺": "Longtousi", "新牌坊": "Xinpaifang", "回兴": "Huixing",
    "两路": "Lianglu", "礼嘉": "Lijia", "照母山": "Zhaomushan", "光电园": "Guangdianyuan",
    "人和": "Renhe", "空港": "Konggang", "鱼洞": "Yudong", "李家沱": "Lijiatuo",
    "龙洲湾": "Longzhouwan", "界石": "Jieshi", "南泉": "Nanquan", "花溪": "Huaxi",
    "北碚城区": "Beibei Town Centre", "天生": "Tiansheng", "蔡家": "Caijia", "歇马": "Xiema",
    "水土": "Shuitu", "缙云山": "Jinyunshan", "九宫庙": "Jiugongmiao", "双山": "Shuangshan",
    "钓鱼嘴": "Diaoyuzui",
}
KIND_EN = {"工会驿站": "Union Rest Station", "户外劳动者驿站": "Outdoor Workers' Rest Station",
           "爱心驿站": "Caring Rest Station", "新就业形态劳动者驿站": "Gig Workers' Rest Station",
           "骑手之家": "Riders' Home"}
# A few stations sit under the demo's street unions instead of directly under the district.
PARENTS = {"cq-st-yz-01": "cq-yz-jfb", "cq-st-yz-04": "cq-yz-jfb", "cq-st-jb-01": "cq-jb-gyq",
           "cq-st-spb-01": "cq-spb-xq", "cq-st-spb-02": "cq-spb-xq"}
HOURS = ["07:00-22:00", "08:00-20:00", "08:30-21:30", "00:00-24:00", "09:00-21:00",
         "07:30-19:30", "06:30-22:30"]


def rows(seed: int = 2026) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for district, prefix, places in PLACES:
        for index, (area, road, landmark, kind) in enumerate(places, start=1):
            code = f"cq-st-{prefix}-{index:02d}"
            big = kind in ("骑手之家", "新就业形态劳动者驿站")
            out.append([
                code, f"{area}{kind}", f"{AREA_EN[area]} {KIND_EN[kind]}", district,
                PARENTS.get(code, ""),
                f"{district}{road}{rng.randint(1, 399)}号", landmark,
                rng.choice(HOURS), f"023-{rng.randint(6000, 8999)}{rng.randint(1000, 9999)}",
                "是", rng.choice(["是", "是", "否"]), rng.choice(["是", "否"]),
                str(rng.choice([0, 2, 4, 6, 8, 12]) + (4 if big else 0)),
                str(rng.choice([0, 0, 2, 4, 6, 10])),
                str(rng.choice([8, 10, 15, 20, 30, 40]) + (10 if big else 0)),
                "否" if rng.random() < 0.12 else "是",
            ])
    return out


def main() -> None:
    with open(HERE / "stations.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows())


if __name__ == "__main__":
    main()
