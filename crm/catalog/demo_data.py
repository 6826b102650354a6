"""The demo catalog of the standard-product mode: a GPS and survey-instrument dealer."""

from __future__ import annotations

# (name, parent name)
CATEGORIES: tuple[tuple[str, str | None], ...] = (
    ("GNSS 接收机", None),
    ("高精度 RTK", "GNSS 接收机"),
    ("手持 GPS", "GNSS 接收机"),
    ("测绘仪器", None),
    ("全站仪", "测绘仪器"),
    ("水准仪", "测绘仪器"),
    ("激光测距仪", "测绘仪器"),
    ("配件", None),
    ("天线与电台", "配件"),
    ("电池与充电器", "配件"),
    ("脚架与对中杆", "配件"),
    ("软件与服务", None),
)

# (sku, name, spec, unit, category, list price, tax rate)
PRODUCTS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("HZ-G970II", "合众思壮 G970II 高精度 GNSS 接收机", "1408 通道，北斗三号全频点", "台", "高精度 RTK", "39800.00", "0.13"),
    ("HZ-G990", "合众思壮 G990 惯导 RTK 接收机", "IMU 倾斜测量，60° 免对中", "台", "高精度 RTK", "45800.00", "0.13"),
    ("HD-V200", "中海达 V200 GNSS RTK 测量系统", "含手簿与测量软件", "套", "高精度 RTK", "36800.00", "0.13"),
    ("SN-G6", "南方 银河 6 RTK 测量系统", "四星十六频，IP68", "套", "高精度 RTK", "32800.00", "0.13"),
    ("UG-G138BD", "集思宝 G138BD 北斗手持 GPS", "单北斗定位，3 米精度", "台", "手持 GPS", "2680.00", "0.13"),
    ("UG-MG10", "集思宝 MG10 手持 GIS 数据采集器", "亚米级，安卓系统", "台", "手持 GPS", "5980.00", "0.13"),
    ("GM-GPSMAP65S", "佳明 GPSMAP 65s 手持导航仪", "多频多星，含气压高度计", "台", "手持 GPS", "3280.00", "0.13"),
    ("SK-CX105", "索佳 CX-105 全站仪", "测角精度 5″，免棱镜 500 米", "台", "全站仪", "28600.00", "0.13"),
    ("SN-NTS362R", "南方 NTS-362R 免棱镜全站仪", "测角精度 2″，免棱镜 600 米", "台", "全站仪", "19800.00", "0.13"),
    ("TP-ATB4A", "拓普康 AT-B4A 自动安平水准仪", "24 倍望远镜，每公里 ±2.0 毫米", "台", "水准仪", "3680.00", "0.13"),
    ("SY-DSZ2", "苏一光 DSZ2 自动安平水准仪", "32 倍望远镜，每公里 ±1.5 毫米", "台", "水准仪", "2380.00", "0.13"),
    ("LC-D810", "徕卡 DISTO D810 激光测距仪", "测程 200 米，触摸屏", "台", "激光测距仪", "6980.00", "0.13"),
    ("ACC-ANT-601", "高精度测量天线 HX-CSX601A", "全频点，TNC 接口", "个", "天线与电台", "1280.00", "0.13"),
    ("ACC-RADIO-35W", "35W 外挂数传电台", "UHF 410-470MHz", "台", "天线与电台", "6800.00", "0.13"),
    ("ACC-BAT-3400", "G970 系列锂电池", "7.4V 3400mAh", "块", "电池与充电器", "380.00", "0.13"),
    ("ACC-CHG-2", "双槽电池充电器", "适用 G970/G990 电池", "个", "电池与充电器", "260.00", "0.13"),
    ("ACC-POLE-25", "碳纤维对中杆 2.5 米", "带圆水准器", "根", "脚架与对中杆", "420.00", "0.13"),
    ("ACC-TRIPOD-AL", "铝合金重型三脚架", "双锁紧，最高 1.65 米", "个", "脚架与对中杆", "560.00", "0.13"),
    ("ACC-PRISM-1", "单棱镜组（含基座）", "常数 -30 毫米", "套", "脚架与对中杆", "680.00", "0.13"),
    ("SW-FIELD-1Y", "外业测量软件 年度授权", "单台手簿授权", "套", "软件与服务", "1980.00", "0.13"),
    ("SV-CAL-1", "仪器年度检定校准服务", "含检定证书", "次", "软件与服务", "800.00", "0.06"),
)

# The discount of each list on the list price (standard: none) and the volume breaks
# (min quantity, extra discount) every list has on accessories.
STANDARD_LIST = "2026 年标准价格表"
VIP_LIST = "VIP 客户价（A 级客户）"
GOLD_LIST = "渠道金牌价"
SILVER_LIST = "渠道银牌价"
LISTS: tuple[tuple[str, str, str, str], ...] = (  # (name, kind, code, discount)
    (STANDARD_LIST, "standard", "", "0"),
    (VIP_LIST, "customer_level", "A", "0.08"),
    (GOLD_LIST, "partner_tier", "gold", "0.15"),
    (SILVER_LIST, "partner_tier", "silver", "0.10"),
)
VOLUME_BREAKS: tuple[tuple[str, str], ...] = (("10", "0.05"), ("50", "0.10"))

# (code, name, address, region name)
WAREHOUSES: tuple[tuple[str, str, str, str], ...] = (
    ("BJ01", "北京总仓", "北京市海淀区丰秀中路 3 号院 12 号楼", "北京"),
    ("SH01", "上海分仓", "上海市闵行区新骏环路 88 号 3 号楼", "上海"),
)
# units received into (Beijing, Shanghai): instruments a few, accessories many
STOCK_INSTRUMENTS = ("12", "5")
STOCK_ACCESSORIES = ("120", "60")
