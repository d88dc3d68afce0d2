/* 汇总 WPS 加载项的入口（index.html 加载它，做法同 wpsjs 官方模板的 main.js）：
 * js/actions.js 是汇总服务按 pipeline/actions.py 的按钮表生成的，js/huizong.js 是按钮的实现。 */
document.write("<script type='text/javascript' src='js/actions.js'></script>");
document.write("<script type='text/javascript' src='js/huizong.js'></script>");
