"""The one catalogue of problem codes, and the Problem record every stage yields.

Errors are data: readers and validators return lists of :class:`Problem`; only a
situation where nothing can go on raises :class:`HuizongError`, which carries a Problem too.
Codes are stable (other tools and the clerk's phone calls rely on them); messages are Chinese.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "错误"
    WARNING = "警告"


@dataclass(frozen=True)
class Kind:
    code: str
    severity: Severity
    template: str  # str.format template; keys come from the Problem's params


E, W = Severity.ERROR, Severity.WARNING

# F: the file as a whole · S: structure · V: values · R: rules between values
# I: identity (village, period, signature) · C: configuration and registry · X: workspace
CATALOGUE: dict[str, Kind] = {
    k.code: k
    for k in [
        Kind("F001", E, "文件为空（0 字节），请重新保存后再发送。"),
        Kind("F002", E, "文件已加密或设置了打开密码，无法读取。请在 Excel/WPS 中取消密码（文件→信息→保护工作簿）后另存为 .xlsx 再发送。"),
        Kind("F003", E, "文件解压后过大或压缩比异常（{detail}），疑似损坏或恶意文件，已拒绝读取。请用模板重新填写。"),
        Kind("F004", E, "文件内含 XML 实体声明（{detail}），出于安全原因拒绝读取。请用模板重新填写。"),
        Kind("F005", E, "这是 WPS 表格专用格式（.et），无法读取。请在 WPS 中“另存为”Excel 工作簿（.xlsx）后再发送。"),
        Kind("F006", E, "这是网页（HTML）文件，只是扩展名像 Excel。请在 Excel/WPS 中“另存为”Excel 工作簿（.xlsx）后再发送。"),
        Kind("F007", E, "这是纯文本/CSV 文件，不是 Excel 工作簿。请用下发的模板填写并保存为 .xlsx。"),
        Kind("F008", E, "文件不完整或已损坏（{detail}），可能是下载或发送中断。请重新保存后再发送。"),
        Kind("F009", E, "无法识别的文件类型（{detail}）。请使用下发的 Excel 模板（.xlsx）。"),
        Kind("F010", E, "文件过大（{detail}），超过允许的上限。请只保留模板中的内容后再发送。"),
        Kind("F011", E, "表格过大（工作表“{sheet}”：{detail}），超过允许的上限，已停止读取。请删除模板以外的多余行列后再发送。"),
        Kind("F012", W, "文件含有宏（.xlsm），宏不会被运行，只读取单元格中的数值。"),
        Kind("F013", E, "检查这个文件时程序出错（{detail}），文件没有检查完。原件已归档；请把原件和这条信息交给技术支持，或请村里用模板重新填写后再发送。"),
        Kind("F014", E, "读取这个文件时检查程序异常退出（{detail}），单独重试一次仍然如此，已停止处理这个文件。原件已归档；请把原件交给技术支持，或请村里用下发的模板重新填写、另存为 .xlsx 后再发送。"),
        Kind("F015", W, "无法在原表上标注问题（{detail}），标注副本只列出了全部问题。"),
        Kind("F016", E, "读取这个文件超过 {detail}仍未完成，已停止处理这个文件。原件已归档；请把原件交给技术支持，或请村里用下发的模板重新填写、另存为 .xlsx 后再发送。"),
        Kind("S001", E, "找不到本月报的工作表（应为“{detail}”）。请使用下发的模板，不要删除或大幅改动工作表。"),
        Kind("S002", W, "工作表名称被改动：按表格结构在“{sheet}”中找到了“{detail}”的内容。"),
        Kind("S003", E, "找不到“{label}”的填报位置。请使用下发的模板，不要删除行。"),
        Kind("S004", W, "填报位置有变动（在模板之外的行列中找到“{label}”），已按标签读取。"),
        Kind("S005", E, "找不到登记表的表头（应含“{detail}”）。请使用下发的模板。"),
        Kind("S006", W, "单元格 {cell} 是合并单元格的一部分，已读取合并区域左上角的值。"),
        Kind("S007", E, "工作表“{sheet}”超过 {detail} 行，超出的行未读取，不能据此汇总。请删去多余的行或调大设置中的 limits.max_rows。"),
        Kind("S008", E, "表头中的 {value} 不是这张表的列名，而这张表的 {detail} 列没有找到。如果那一列就是它，请把表头改回原来的名称；不用的列请整列删除。"),
        Kind("S009", E, "工作簿中的工作表 {value} 与“{sheet}”是同一张表（表头相同），而 huizong 只读“{sheet}”：另一张中的登记会漏掉。请把登记都放在“{sheet}”里，删去另一张（备份请另存为别的文件）。"),
        Kind("S010", E, "工作簿中除“{sheet}”外，工作表“{value}”也是一张填了数字的报表，两张的数字不同（{detail}），不知道该按哪一张计。请把本期数字填在一张表里，删去另一张（往月的表请另存为别的文件）后重新发送。"),
        Kind("S011", E, "表头中“{label}”有不止一列（{detail}），不知道该读哪一列：读错了，整列的数就都按另一列算了。请只留一列，"
                        "另一列删去或改成别的名称。"),
        Kind("V001", E, "“{label}”未填写。{detail}"),
        Kind("V002", E, "“{label}”应为整数，填写的是“{value}”。请只填阿拉伯数字，例如 12。"),
        Kind("V003", E, "“{label}”应为数字，填写的是“{value}”。请只填阿拉伯数字，例如 1250.50。"),
        Kind("V004", E, "“{label}”不能小于 {detail}，填写的是 {value}。"),
        Kind("V005", E, "“{label}”不能大于 {detail}，填写的是 {value}。"),
        Kind("V006", E, "“{label}”是人数/次数，不能有小数，填写的是 {value}。"),
        Kind("V007", E, "“{label}”填写的“{value}”含义不明确（{detail}）。请只填一个准确的阿拉伯数字。"),
        Kind("V008", E, "“{label}”的单元格里是公式，但文件中没有保存计算结果。请在 Excel/WPS 中打开文件并保存（存下计算结果），或直接填写数值。"),
        Kind("V009", W, "“{label}”的单元格里是公式，已使用其计算结果 {value}。请尽量直接填写数值。"),
        Kind("V010", W, "“{label}”的填写已自动规范：“{value}”按 {detail} 读取。"),
        Kind("V011", E, "“{label}”应为日期，填写的是“{value}”。请按 2026-10-05 或 2026年10月5日 的格式填写。"),
        Kind("V012", E, "“{label}”的日期 {value} 不在报告期 {detail} 内。"),
        Kind("V013", E, "“{label}”只能填写下拉列表中的：{detail}；填写的是“{value}”。"),
        Kind("V014", E, "“{label}”应为 18 位身份证号码，填写的是“{value}”（{detail}）。"),
        Kind("V015", E, "“{label}”身份证号码校验位不正确（{value}），请核对是否抄错。"),
        Kind("V016", E, "“{label}”应为百分数，填写的是“{value}”。请填写如 75 或 75%。"),
        Kind("V017", W, "单元格中的数字被存成了文本：“{label}”的“{value}”已按数字读取。"),
        Kind("V018", E, "“{label}”的单元格显示为错误值（{value}）。请改正公式或直接填写数值。"),
        Kind("V019", E, "“{label}”填写的“{value}”不符合要求：{detail}"),
        Kind("V020", E, "“{label}”的文字过长（{detail} 个字以内），填写了 {value} 个字。"),
        Kind("V021", W, "“{label}”中的电话号码被存成了数字，已按“{value}”读取。"),
        Kind("V022", E, "“{label}”填写的 {value} 不属于{detail}，这一行不会计入任何排名，请核对是否填错。"),
        Kind("V023", E, "“{label}”填写的 {value} 超过了合理上限 {detail}，请核实是否填错。如数字确实无误，请电话告知镇里（镇里可调整年度任务或上限）。"),
        Kind("V024", E, "“{label}”填成了百分数（{value}），本栏应填{detail}，不是比率。请改为数字（如 12），单元格格式设为“常规”或“数值”。"),
        Kind("V025", W, "“{label}”填的是“{value}”，不算确认（只有“是”“已核实”“√”算）。核对无误请在下拉列表中选“是”，没有核对请留空。"),
        Kind("R001", E, "“{label}”（{value}）不能大于{detail}。"),
        Kind("R002", E, "“{label}”（{value}）应等于{detail}。"),
        Kind("R003", E, "“{sheet}”第 {detail} 行不完整：{value}未填写。"),
        Kind("R004", W, "“{sheet}”第 {detail} 行完全相同，请核对是否重复登记。"),
        Kind("R005", W, "“{label}”（{value}）与往月相比变化异常（{detail}），请核对。"),
        Kind("R006", W, "“{label}”本月填报 {value}，与往月差异过大（{detail}），请核实。已照常计分；镇里核实确认之前，通报中该村名后标 ※（含待核实数据）。"),
        Kind("I001", E, "文件中的村名“{value}”在村名册中找不到（也不是任何村的别名）。"),
        Kind("I002", E, "文件中的报告期“{value}”无法识别，应为 2026年10月 这样的月份。"),
        Kind("I003", E, "文件的签名与村、报告期不符（{detail}），可能是别的村或别的月份的表格被改过。已转为待确认，请镇里核实。"),
        Kind("I004", W, "文件没有模板签名（{detail}），可能不是用本期下发的模板填写的。已转为待确认，请镇里核实。"),
        Kind("I005", E, "文件是 {value} 的报表，不是本次要求的 {detail}。"),
        Kind("I006", W, "模板版本为 {value}，当前版本为 {detail}。请下次使用新模板。"),
        Kind("I007", E, "发件人 {value} 不是 {detail} 登记的上报邮箱。已转为待确认，请镇里核实。"),
        Kind("I008", W, "这是{value}的报表，村名册写明{detail}：报表已登记，但不参加{value}的排名。如村名册的起始月份或停止月份填错了，请镇里改正村名册后重新汇总。"),
        Kind("I009", E, "村名册中{value}这一行有错误，这份报表暂时不能登记到该村（不是村里的问题）：已转为待确认。请镇里改正村名册后用 huizong accept 记录号 --village 村代码 确认。"),
        Kind("I010", E, "报告期{value}不是本方案的报送月份（{detail}），这份报表不计入任何排名。请核对报告期，或不必报送。"),
        Kind("I011", E, "文件名写的是“{value}”，表内的报告期却是{detail}：可能是用上个月的模板填了新一个月的数。已转为待确认："
                        "确是这个月的更正，镇里用 huizong accept 记录号 --note 理由 确认；是新一个月的数，请用新一个月的模板重新填写。"),
        Kind("M001", E, "没有找到邮箱密码（授权码）：{detail}。"),
        Kind("M002", E, "无法连接邮件服务器 {detail}。请检查网络、服务器地址和端口，或稍后再试。"),
        Kind("M003", E, "邮箱登录失败（{detail}）。QQ/163 邮箱须在网页版设置中开启 IMAP/SMTP 服务，并使用“授权码”而不是登录密码。"),
        Kind("M004", E, "发送邮件失败（{detail}），未发出的回复会在下次运行时重发。"),
        Kind("M005", W, "{value}来信，没有报表（{detail}）。请在邮箱中阅读，需要时回复或电话联系。"),
        Kind("M006", W, "{value}（{detail}）：已归档，不回复，其中的附件不作为报表登记。"),
        Kind("M007", W, "退信：发往 {value} 的邮件没有送达（{detail}）。请核对村名册中的上报邮箱，或电话告知该村。"),
        Kind("M008", W, "未登记邮箱发来的邮件没有报表附件（{detail}），可能是广告或垃圾邮件：已归档，不回复。"),
        Kind("M009", W, "自动发送的邮件（{detail}）中有报表附件 {value}，没有登记。如确是村里报送的，请把附件另存到 inbox/ 文件夹后再收取。"),
        Kind("M010", E, "邮件服务器拒绝打开文件夹“{value}”（服务器答复：{detail}）。网易邮箱（163/126/yeah.net）答复 Unsafe Login 时，请在网页版“设置 → POP3/SMTP/IMAP”中确认已开启 IMAP 服务；仍不行请联系邮箱服务商。"),
        Kind("M011", E, "邮箱中没有文件夹“{value}”（现有：{detail}）。请检查 huizong.yaml 中的 mail.folder（收件箱写 INBOX）。"),
        Kind("M012", E, "发信服务器永久拒收邮件“{detail}”（{value}），不再重发。请核对收件地址，或改用电话告知对方。"),
        Kind("M013", E, "处理邮件 {detail} 时出错（{value}）。原件已归档，这封邮件已跳过、不再重试，其余邮件照常处理。请把这条信息交给技术支持。"),
        Kind("M014", W, "邮件 {detail} 已登记，但未能{value}；下次收取不会重复处理它。"),
        Kind("M015", E, "发信服务器不接受发信地址 {value}（{detail}），回复都没有发出，下次运行时重发。请检查 huizong.yaml 中的 mail.from 是否就是登录的邮箱。"),
        Kind("M016", W, "“{value}”已按退回登记，但它的标注副本没有生成（{detail}），回复中不附标注副本。请把这条信息交给技术支持。"),
        Kind("M017", E, "邮件 {detail} 中的报表已登记，但回复没有生成（{value}），不会再试。请电话告知对方结果，并把这条信息交给技术支持。"),
        Kind("M018", E, "待发邮件“{detail}”无法生成（{value}），不会再试；其余邮件照常发出。请电话告知收件人，并把这条信息交给技术支持。"),
        Kind("M019", W, "邮件 {detail} 中的报表已登记，但另有文件是以“{value}”的下载链接发来的，没有收到；回复已请对方作为普通附件重发。"),
        Kind("C001", E, "配置文件格式错误：{detail}"),
        Kind("C002", E, "配置项 {field} 不正确：{detail}"),
        Kind("C003", E, "村名册中“{label}”不正确：{detail}"),
        Kind("C004", E, "村名册中村代码“{value}”重复出现（{detail}）。"),
        Kind("C005", E, "村名册中名称或别名“{value}”同时属于两个村（{detail}），无法据此识别村。"),
        Kind("C006", E, "找不到配置文件或工作簿：{detail}"),
        Kind("C007", E, "方案设计表填写有误：{detail}"),
        Kind("C008", E, "登记表中“{label}”不正确：{detail}"),
        Kind("C009", E, "台账里有村代码 {value} 的已接收报表（{detail}），村名册里却没有这个代码：这些报表不会计入任何排名，该村会从通报中消失。撤并或不再参加考核的村，请在村名册里保留它这一行并填写停止月份；改了代码的村请改回原代码（村改名时代码不变）。"),
        Kind("C010", E, "登记表 {value} 没有读到（{detail}）。不读它，其中的一票否决、扣分和加分会全部漏掉，所以汇总停止。"),
        Kind("C011", E, "登记表中的村代码 {value} 在村名册中找不到{detail}。请核对代码；新设的村请先在村名册中登记。"),
        Kind("C012", E, "这一行是合计行（“{value}”）：登记表只逐村登记，合计由汇总时计算，合计行会被当成一个村。请删去这一行。"),
        Kind("C013", E, "文件夹里的 {value} 比 {detail} 新：最近的改动（任务、人口、新加的村）可能只在那个文件里，而 huizong 只读 {detail}，"
                        "按旧的名册汇总就不对了。请用 Excel/WPS 把 {value} 另存为 Excel 工作簿（*.xlsx），文件名 {detail}（覆盖），或删去不用的那一份。"),
        Kind("C014", W, "{value} 正在 Excel/WPS 中打开：还没有保存的修改不会计入这次汇总。请先在 Excel/WPS 中保存它，再汇总。"
                        "（如果并没有打开，是上次异常退出留下的锁文件：删去同一文件夹里以 ~$ 或 .~lock 开头的同名文件即可。）"),
        Kind("C015", W, "“上报邮箱”中的“{value}”不是邮箱地址，没有使用：{detail}照常参加考核、生成模板，但从这个地址发来的报表认不出是哪个村（待确认），"
                        "给它的邮件也不会发出。请改成 xxx@qq.com 这样的地址，多个用分号分隔。"),
        Kind("C016", W, "{detail}在“{label}”一栏没有填写：汇总{value}年的月份之前请补上（没有任务填 0）；其他年份不受影响。"),
        Kind("C017", E, "{detail}在“{label}”一栏没有填写，不能汇总{value}年的月份（只填了一部分村，其余的村就会按别的年份的任务计）。请补上，没有任务填 0。"),
        Kind("C018", W, "村名册的列名“{value}”写了年份，但认不出是哪项任务，这一列没有使用（那一年仍按不带年份的任务计）。请照原列名前加年份写，如“{detail}”。"),
        Kind("X001", E, "{detail} 不是汇总工作目录（缺少 huizong.yaml）。请先运行 huizong init {detail}。"),
        Kind("X002", E, "{detail} 已经是一个汇总工作目录。如确需重建设置和村名册，请加 --force（原文件会先备份到 .huizong/backup，归档和台账保留）。"),
        Kind("X008", E, "{detail}没有任何村的已接收报表，无法汇总。请先收取（huizong collect）并处理退回、待确认的报表。"),
        Kind("X009", E, "本机汇总服务的端口无法使用（{detail}）。可能已有一个汇总服务在运行，或用 --port 换一个端口。"),
        Kind("X010", E, "请用 --period 指定报告期，如 --period 2026-10{detail}。"),
        Kind("X011", E, "磁盘空间不足，无法写入“{detail}”。已收到的文件都还在收件箱或已原样归档，没有丢失；请清理磁盘（或换一个空间足够的工作目录）后重新运行。"),
        Kind("X012", E, "无法读写“{detail}”：文件夹是只读的、文件正被其他程序独占打开，或没有权限。没有丢失任何文件；请检查该文件夹的权限（是否在只读的 U 盘、光盘或网络盘上）后重新运行。"),
        Kind("X013", E, "程序内部错误（{detail}），操作没有完成；已收到的文件不会丢失。请把这条信息交给技术支持。"),
        Kind("X014", E, "汇总服务拒绝了这个请求：{detail}"),
        Kind("X015", E, "汇总服务没有{detail}。"),
        Kind("X016", E, "请求内容不正确：{detail}。"),
        Kind("X017", E, "无法把授权码保存到系统凭据（{detail}）。请改用环境变量 {value} 提供邮箱授权码。"),
        Kind("X019", E, "文件“{detail}”已经存在；为免覆盖，请换一个文件名（或先把它移走）。"),
        Kind("X018", E, "这台电脑上找不到 Excel 的启动文件夹（XLSTART），请按下面的方法手动加载 huizong.xlam。"),
        Kind("X030", E, "这个操作要先经确认才能进行：{detail}"),
        Kind("X031", E, "工作目录“{detail}”的路径含有 % 或英文引号，命令行方式无法使用。请把工作目录移到不含这些字符的文件夹，或启动汇总服务（huizong serve）后再点按钮。"),
        Kind("X032", E, "无法运行 huizong（{detail}）。请按《安装说明》检查 huizong 是否已安装；或在控制台的“Python”格中填写装有 huizong 的 python.exe 的完整路径。"),
        Kind("X033", E, "WPS 的加载项登记文件“{detail}”不是有效的 XML，为免破坏其中其他加载项的登记，没有改动它。请检查或删除这个文件后重新运行。"),
        Kind("X034", E, "无法写入开机自动启动（{detail}）。可以每次手动启动汇总服务（huizong serve），或按《安装说明》手动设置。"),
        Kind("X035", E, "离线安装包没有做成：{detail}"),
        Kind("X036", E, "离线安装包不完整：{detail}"),
        Kind("X037", W, "“{value}”已登记，但无法从 inbox/ 移走（{detail}），可能正被 Excel/WPS 打开。关闭它后下次收取时会移走，不会重复登记。"),
        Kind("X038", W, "inbox/ 中的文件夹“{value}”里的文件不会被收取：请把报表直接放进 inbox/，不要放在文件夹里。"),
        Kind("X039", W, "找不到收件文件夹 {detail}：它被删除、改成了文件，或所在的 U 盘、网络盘没有连接。请恢复这个文件夹后再收取；邮箱照常收取。"),
        Kind("X040", W, "inbox/ 中的“{value}”{detail}，不会被收取。请把报表文件本身放进 inbox/。"),
        Kind("X041", E, "{value}不是本方案的报送月份（{detail}）：这个月没有报表，不生成模板、不催报，也没有上报情况和汇总排名。"),
        Kind("X042", E, "{value}已有之后收到的报表在用（{detail}），这份较早收到的报表没有确认：确认了就会以较早的数字为准。如确应以这份为准，请加 --replace 再确认一次。"),
        Kind("X043", E, "经 xlwings 运行“{detail}”时出错，邮件可能已经发出了一部分；为免给村里重复发信，没有自动重新运行。请先在邮箱的“已发送”中核对，需要补发时把“运行方式”改为“命令行”或启动汇总服务（huizong serve）后再点一次。"),
        Kind("X044", E, "签名密钥 {value} 不见了（.huizong 文件夹被删除或移动？）：没有它，下发的模板一份也核对不了。"
                        "请从备份恢复整个 .huizong 文件夹；没有备份时运行 huizong init {detail} --repair 生成新的密钥"
                        "（设置、村名册和台账不变），再重新生成并下发本月模板——此前下发的模板报来的都会是“待确认”。"),
        Kind("X047", W, "汇总已停止，没有生成新的汇总表{detail}。请按上面的提示改正后再汇总。"),
        Kind("X050", E, "命令的写法不对：{detail}。各命令的写法见 huizong --help 或 huizong 命令 --help。"),
        Kind("X051", E, "报送记录 {value} 已经是已接收的报表（{detail}），不用再确认；它也没有待核实的数。"),
        Kind("X052", E, "归档文件夹 {value} 不见了：此前收到的原件都在里面（台账记着它们）。请马上从回收站或备份恢复这个文件夹；"
                        "确实找不回来的，新建一个空的 archive 文件夹后再运行（此前的原件就没有了，已登记的数字不受影响）。"),
        Kind("X048", E, "报送记录 {value} 已经作废了，不用再作废。"),
        Kind("X049", E, "请用 --note 写明{detail}，台账里记下的理由是日后说明这个决定的依据。"),
        Kind("X054", E, "报送记录 {value} 没有作废（现在是“{detail}”），不用撤销。"),
        Kind("X053", E, "报送记录 {value} 是“{detail}”的报表，不能确认：退回的请村里改正后重发，重复的以最早收到的那一份为准。"),
        Kind("X046", E, "{detail} 是工作目录 {value} 里面的文件夹，不是工作目录本身。请用 -w {value}（或在 {value} 中运行命令），不要在这里另建工作目录。"),
        Kind("X045", E, "台账 {value} 不见了，但工作目录里有此前收到的原件或做过的汇总表（archive/、reports/）：接着运行会把此前收到的报表都当作未报，通报会少了它们。"
                        "请从备份恢复 .huizong 文件夹（连同 ledger.sqlite）后再运行。如确实要作废此前的全部记录、从头开始，"
                        "请先把 {detail} 中的 archive/ 和 reports/ 文件夹移到别处。"),
        Kind("X007", E, "目录 {detail} 不为空，也不是汇总演示目录；为免误删其中的文件，请换一个 --out 目录。"),
        Kind("X003", E, "另一个汇总任务正在运行（{detail}），请等它结束后再试。"),
        Kind("X004", E, "文件“{detail}”正被其他程序（如 Excel/WPS）打开，无法写入。请关闭该文件后再试。"),
        Kind("X005", E, "报告期“{value}”格式不对，应为 2026-10 这样的年月。"),
        Kind("X006", E, "找不到文件：{detail}"),
    ]
}

# Catalogued codes no part of huizong emits today, and why they stay: codes are published (clerks and
# other programs know them) and are never reused for something else.
RESERVED: dict[str, str] = {
    "S004": "按标签找到的填报位置目前不单独提示（工作表改名由 S002 提示）；保留给将来的位置变动提示",
    "R005": "与往月相比的异常变化提示尚未启用；保留给将来的逐月比较",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or normalised) in one place. Everything a clerk needs to find and fix it."""

    code: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    label: str = ""
    value: Any = None
    detail: str = ""

    @property
    def kind(self) -> Kind:
        return CATALOGUE[self.code]

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def message(self) -> str:
        shown = "" if self.value is None else show_value(self.value)
        return self.kind.template.format(
            label=self.label or self.field, value=shown, detail=self.detail, sheet=self.sheet, cell=self.cell, field=self.field
        )

    @property
    def where(self) -> str:
        parts = [p for p in (self.sheet and f"工作表“{self.sheet}”", self.cell and f"单元格 {self.cell}") if p]
        return "，".join(parts)

    def at(self, **changes: Any) -> Problem:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        d["message"] = self.message
        d["value"] = _jsonable(self.value)
        return d


_CONTROL = {c: 0x2400 + c for c in range(32)} | {0x7F: 0x2421}  # shown as ␁ …: "1\x012" must not read "12"


def show_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value).translate(_CONTROL)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


class HuizongError(Exception):
    """Nothing can go on. Carries the problem(s) that say why, in Chinese."""

    def __init__(self, problems: Problem | list[Problem]):
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("；".join(p.message for p in self.problems))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


_GROUPS = {
    "F": "文件", "S": "表格结构", "V": "填写的值", "R": "前后规则", "I": "村与报告期（身份）", "M": "邮件",
    "C": "配置与村名册", "X": "工作目录与命令",
}


def catalogue_markdown() -> str:
    """docs/问题代码.md, generated from the catalogue (a test keeps the file current)."""
    lines = ["# 问题代码", "", "huizong 报告的每个问题都有一个固定代码。“错误”会导致退回（或命令失败），“警告”只是提示。", ""]
    for prefix, title in _GROUPS.items():
        lines += [f"## {prefix}：{title}", "", "| 代码 | 级别 | 说明（{} 处填入具体内容） |", "|---|---|---|"]
        for kind in CATALOGUE.values():
            if kind.code.startswith(prefix):
                note = f"（保留未用：{RESERVED[kind.code]}）" if kind.code in RESERVED else ""
                lines.append(f"| {kind.code} | {kind.severity.value} | {kind.template.replace('|', '｜')}{note} |")
        lines.append("")
    return "\n".join(lines)
