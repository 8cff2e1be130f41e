"""Generate datasets/general_mini.json, a small offline zh/en general-instruction set (alpaca records).
Answers come from tables in this file or are computed (arithmetic, string ops, executed Python snippets).
Deterministic (fixed seed): running `python3 datasets/tools/make_general_mini.py` rewrites the file byte-identically."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path

SEED = 20240415
OUT = Path(__file__).resolve().parent.parent / "general_mini.json"

# (English country, English capital, Chinese country, Chinese capital)
CAPITALS = [
    ("France", "Paris", "法国", "巴黎"),
    ("Germany", "Berlin", "德国", "柏林"),
    ("Japan", "Tokyo", "日本", "东京"),
    ("China", "Beijing", "中国", "北京"),
    ("Italy", "Rome", "意大利", "罗马"),
    ("Spain", "Madrid", "西班牙", "马德里"),
    ("the United Kingdom", "London", "英国", "伦敦"),
    ("Russia", "Moscow", "俄罗斯", "莫斯科"),
    ("Canada", "Ottawa", "加拿大", "渥太华"),
    ("Australia", "Canberra", "澳大利亚", "堪培拉"),
    ("Brazil", "Brasília", "巴西", "巴西利亚"),
    ("Egypt", "Cairo", "埃及", "开罗"),
    ("India", "New Delhi", "印度", "新德里"),
    ("South Korea", "Seoul", "韩国", "首尔"),
    ("Thailand", "Bangkok", "泰国", "曼谷"),
    ("Mexico", "Mexico City", "墨西哥", "墨西哥城"),
    ("Argentina", "Buenos Aires", "阿根廷", "布宜诺斯艾利斯"),
    ("Greece", "Athens", "希腊", "雅典"),
    ("Portugal", "Lisbon", "葡萄牙", "里斯本"),
    ("Sweden", "Stockholm", "瑞典", "斯德哥尔摩"),
    ("Norway", "Oslo", "挪威", "奥斯陆"),
    ("Finland", "Helsinki", "芬兰", "赫尔辛基"),
    ("Denmark", "Copenhagen", "丹麦", "哥本哈根"),
    ("Poland", "Warsaw", "波兰", "华沙"),
    ("Austria", "Vienna", "奥地利", "维也纳"),
    ("Ireland", "Dublin", "爱尔兰", "都柏林"),
    ("Kenya", "Nairobi", "肯尼亚", "内罗毕"),
    ("Vietnam", "Hanoi", "越南", "河内"),
    ("Turkey", "Ankara", "土耳其", "安卡拉"),
    ("Peru", "Lima", "秘鲁", "利马"),
]

EN_ANTONYMS = [
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("up", "down"),
    ("early", "late"), ("young", "old"), ("rich", "poor"), ("strong", "weak"), ("wide", "narrow"),
    ("full", "empty"), ("true", "false"), ("win", "lose"), ("buy", "sell"), ("push", "pull"),
    ("increase", "decrease"), ("inside", "outside"), ("clean", "dirty"), ("easy", "difficult"),
    ("remember", "forget"),
]
ZH_ANTONYMS = [
    ("黑", "白"), ("快", "慢"), ("冷", "热"), ("长", "短"), ("多", "少"), ("上", "下"),
    ("胖", "瘦"), ("远", "近"), ("轻", "重"), ("左", "右"), ("买", "卖"), ("真", "假"),
    ("哭", "笑"), ("成功", "失败"), ("简单", "复杂"), ("安全", "危险"), ("开始", "结束"),
    ("增加", "减少"), ("干净", "肮脏"), ("勇敢", "胆小"),
]

# (English word, Chinese word)
WORDS = [
    ("apple", "苹果"), ("book", "书"), ("water", "水"), ("cat", "猫"), ("dog", "狗"),
    ("sun", "太阳"), ("moon", "月亮"), ("tree", "树"), ("flower", "花"), ("school", "学校"),
    ("teacher", "老师"), ("student", "学生"), ("friend", "朋友"), ("rain", "雨"), ("snow", "雪"),
    ("mountain", "山"), ("city", "城市"), ("train", "火车"), ("airplane", "飞机"), ("bread", "面包"),
    ("milk", "牛奶"), ("egg", "鸡蛋"), ("music", "音乐"), ("doctor", "医生"), ("hospital", "医院"),
    ("library", "图书馆"), ("window", "窗户"), ("chair", "椅子"), ("eye", "眼睛"), ("bicycle", "自行车"),
]

STRING_WORDS = [
    "planet", "garden", "window", "python", "silver", "orange", "market", "rocket", "pencil",
    "summer", "dragon", "bridge", "castle", "forest", "letter", "banana", "kitten", "jungle",
    "mirror", "butter", "coffee", "yellow", "circle", "puzzle", "bottle",
]

PY_SNIPPETS = [
    "print(len('hello world'))",
    "print(3 * 'ab')",
    "print([x * x for x in range(5)])",
    "print(sum([4, 8, 15, 16, 23, 42]))",
    "print('Python'.lower())",
    "print('a,b,c'.split(','))",
    "print(17 // 5, 17 % 5)",
    "print(max('banana'))",
    "print(sorted('cab'))",
    "print(list(reversed([1, 2, 3])))",
    "print({'a': 1, 'b': 2}['b'])",
    "print(round(3.14159, 2))",
    "print(bool(0), bool(1))",
    "print('swift'.upper())",
    "print(len([1, [2, 3], 4]))",
    "print(abs(-7) + 3)",
    "print(' x '.strip() + '!')",
    "print('hello'.count('l'))",
    "print(10 ** 3)",
    "print(int('42') + 8)",
    "print('abc'[1])",
    "print(list(range(2, 11, 3)))",
    "print(min(9, 4, 6))",
    "print('-'.join('xyz'))",
    "print(len(set([1, 1, 2, 3, 3])))",
    "print(str(12) + str(34))",
    "print([1, 2, 3][-1])",
    "print(7 / 2)",
]

DEFINITIONS = [
    ("en", "algorithm", "An algorithm is a finite, ordered set of steps for solving a problem or completing a task."),
    ("en", "compiler", "A compiler is a program that translates source code written in a programming language into machine code or another lower-level form."),
    ("en", "prime number", "A prime number is a whole number greater than 1 whose only positive divisors are 1 and itself, such as 2, 3, 5 and 7."),
    ("en", "photosynthesis", "Photosynthesis is the process by which green plants use sunlight, water and carbon dioxide to make glucose and release oxygen."),
    ("en", "gravity", "Gravity is the force of attraction between masses; on Earth it pulls objects toward the ground."),
    ("en", "noun", "A noun is a word that names a person, place, thing or idea, such as 'teacher', 'city' or 'freedom'."),
    ("en", "percentage", "A percentage is a number expressed as a fraction of 100; for example, 25% means 25 out of 100."),
    ("en", "recursion", "Recursion is a technique in which a function solves a problem by calling itself on smaller versions of the same problem."),
    ("en", "API", "An API (application programming interface) is a defined set of rules that lets one piece of software request services or data from another."),
    ("en", "variable", "In programming, a variable is a named storage location that holds a value which can be read and changed."),
    ("en", "ecosystem", "An ecosystem is a community of living organisms together with their physical environment, interacting as a system."),
    ("zh", "算法", "算法是为解决某个问题而设计的一系列有限、明确的步骤。"),
    ("zh", "变量", "在编程中,变量是一个有名字的存储位置,用来保存可以读取和修改的值。"),
    ("zh", "质数", "质数是大于1、且只能被1和它本身整除的整数,例如2、3、5、7。"),
    ("zh", "光合作用", "光合作用是绿色植物利用光能,把二氧化碳和水转化为有机物并释放氧气的过程。"),
    ("zh", "重力", "重力是由于地球的吸引而使物体受到的力,方向竖直向下。"),
    ("zh", "比喻", "比喻是一种修辞手法,用一个事物来描写与它有相似之处的另一个事物,例如“月亮像一个银盘”。"),
    ("zh", "平均数", "平均数是一组数据的总和除以数据的个数所得的结果。"),
    ("zh", "数据库", "数据库是按照一定结构组织、存储和管理数据的系统,方便数据的查询和更新。"),
    ("zh", "函数", "在编程中,函数是一段有名字、可重复调用的代码,接收输入参数并可以返回结果。"),
    ("zh", "生态系统", "生态系统是在一定区域内,生物与它们所处的环境相互作用形成的统一整体。"),
]


def run_python(src: str) -> str:
    """Execute a snippet and return what it prints, so every answer is the real output."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(src, {})
    return buf.getvalue().rstrip("\n")


def factor_pair(n: int) -> tuple[int, int] | None:
    for d in range(2, int(n**0.5) + 1):
        if n % d == 0:
            return d, n // d
    return None


class Builder:
    def __init__(self) -> None:
        self.records: list[dict[str, str]] = []
        self.seen: set[tuple[str, str]] = set()

    def add(self, instruction: str, inp: str, output: str) -> bool:
        key = (instruction.strip().lower(), inp.strip().lower())
        if key in self.seen:
            return False
        self.seen.add(key)
        self.records.append({"instruction": instruction, "input": inp, "output": output})
        return True


def arithmetic(b: Builder, rng: random.Random) -> None:
    made = 0
    while made < 80:
        kind = made % 8
        x, y = rng.randint(100, 999), rng.randint(2, 99)
        if kind == 0:
            ok = b.add(f"What is {x} + {y}?", "", f"{x} + {y} = {x + y}.")
        elif kind == 1:
            ok = b.add("Calculate the following expression.", f"{x} - {y}", f"{x} - {y} = {x - y}.")
        elif kind == 2:
            x = rng.randint(11, 99)
            ok = b.add(f"Multiply {x} by {y}.", "", f"{x} × {y} = {x * y}.")
        elif kind == 3:
            q, r = divmod(x, y)
            ok = b.add(f"Divide {x} by {y}. Give the quotient and the remainder.", "",
                       f"{x} ÷ {y} = {q} remainder {r}.")
        elif kind == 4:
            ok = b.add(f"计算 {x} + {y} 的结果。", "", f"{x} + {y} = {x + y}。")
        elif kind == 5:
            ok = b.add("请计算下面的算式。", f"{x} - {y}", f"{x} - {y} = {x - y}。")
        elif kind == 6:
            x = rng.randint(11, 99)
            ok = b.add(f"小明有 {x} 个苹果,又买了 {y} 个,现在一共有多少个?", "",
                       f"{x} + {y} = {x + y},现在一共有 {x + y} 个苹果。")
        else:
            x = rng.randint(11, 99)
            ok = b.add(f"{x} 乘以 {y} 等于多少?", "", f"{x} × {y} = {x * y}。")
        made += ok


def conversions(b: Builder, rng: random.Random) -> None:
    made = 0
    while made < 30:
        kind = made % 6
        v = rng.randint(2, 60)
        if kind == 0:
            ok = b.add(f"Convert {v} kilometers to meters.", "", f"{v} km = {v * 1000} meters.")
        elif kind == 1:
            ok = b.add(f"How many minutes are there in {v} hours?", "", f"{v} hours = {v * 60} minutes.")
        elif kind == 2:
            c = rng.randint(-4, 20) * 5
            f = c * 9 // 5 + 32
            ok = b.add(f"Convert {c} degrees Celsius to Fahrenheit.", "",
                       f"{c} °C × 9/5 + 32 = {f} °F.")
        elif kind == 3:
            ok = b.add(f"{v} 千克等于多少克?", "", f"{v} 千克 = {v * 1000} 克。")
        elif kind == 4:
            ok = b.add(f"{v} 米等于多少厘米?", "", f"{v} 米 = {v * 100} 厘米。")
        else:
            ok = b.add(f"{v} 分钟等于多少秒?", "", f"{v} 分钟 = {v * 60} 秒。")
        made += ok


def capitals(b: Builder) -> None:
    for en_c, en_cap, zh_c, zh_cap in CAPITALS:
        b.add(f"What is the capital of {en_c}?", "", f"The capital of {en_c} is {en_cap}.")
        b.add(f"{zh_c}的首都是哪里?", "", f"{zh_c}的首都是{zh_cap}。")


def antonyms(b: Builder) -> None:
    for w, a in EN_ANTONYMS:
        b.add("Give the antonym of the following word.", w, f"The antonym of \"{w}\" is \"{a}\".")
    for w, a in ZH_ANTONYMS:
        b.add(f"“{w}”的反义词是什么?", "", f"“{w}”的反义词是“{a}”。")


def translations(b: Builder) -> None:
    for i, (en, zh) in enumerate(WORDS):
        if i % 2 == 0:
            b.add("Translate the following English word into Chinese.", en, f"\"{en}\" in Chinese is “{zh}”.")
            b.add(f"“{zh}”用英语怎么说?", "", f"“{zh}”的英文是 {en}。")
        else:
            b.add("把下面的英文单词翻译成中文。", en, f"{en} 的中文是“{zh}”。")
            b.add(f"How do you say “{zh}” in English?", "", f"“{zh}” is \"{en}\" in English.")


def string_ops(b: Builder, rng: random.Random) -> None:
    for i, w in enumerate(STRING_WORDS):
        mode = i % 5
        if mode == 0:
            b.add("Reverse the following word.", w, w[::-1])
        elif mode == 1:
            b.add("把下面的单词倒过来写。", w, w[::-1])
        elif mode == 2:
            b.add("Convert the following word to uppercase.", w, w.upper())
        elif mode == 3:
            b.add("下面这个单词有几个字母?", w, f"“{w}”一共有 {len(w)} 个字母。")
        else:
            letter = rng.choice(sorted(set(w)))
            n = w.count(letter)
            b.add(f"How many times does the letter \"{letter}\" appear in the word \"{w}\"?", "",
                  f"The letter \"{letter}\" appears {n} time{'s' if n != 1 else ''} in \"{w}\".")


def sorting(b: Builder, rng: random.Random) -> None:
    made = 0
    while made < 20:
        nums = rng.sample(range(1, 100), rng.randint(4, 7))
        text = ", ".join(map(str, nums))
        mode = made % 4
        if mode == 0:
            ok = b.add("Sort the following numbers in ascending order.", text,
                       ", ".join(map(str, sorted(nums))))
        elif mode == 1:
            ok = b.add("Sort the following numbers in descending order.", text,
                       ", ".join(map(str, sorted(nums, reverse=True))))
        elif mode == 2:
            ok = b.add("将下面的数字从小到大排序。", text, ", ".join(map(str, sorted(nums))))
        else:
            ok = b.add("找出下面这组数字中的最大值和最小值。", text,
                       f"最大值是 {max(nums)},最小值是 {min(nums)}。")
        made += ok


def primes(b: Builder, rng: random.Random) -> None:
    made = 0
    while made < 16:
        n = rng.randint(11, 199)
        pair = factor_pair(n)
        if made % 2 == 0:
            out = f"Yes, {n} is a prime number." if pair is None else \
                f"No, {n} is not a prime number: {n} = {pair[0]} × {pair[1]}."
            ok = b.add(f"Is {n} a prime number?", "", out)
        else:
            out = f"{n} 是质数。" if pair is None else f"{n} 不是质数,因为 {n} = {pair[0]} × {pair[1]}。"
            ok = b.add(f"{n} 是质数吗?", "", out)
        made += ok


def python_outputs(b: Builder) -> None:
    for i, src in enumerate(PY_SNIPPETS):
        out = run_python(src)
        if i % 2 == 0:
            b.add("What does the following Python 3 code print?", src, f"It prints:\n{out}")
        else:
            b.add("下面这段 Python 3 代码会输出什么?", src, f"输出是:\n{out}")


def definitions(b: Builder) -> None:
    for lang, term, text in DEFINITIONS:
        if lang == "en":
            b.add(f"What does the term \"{term}\" mean?", "", text)
        else:
            b.add(f"请解释“{term}”是什么意思。", "", text)


def build() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    b = Builder()
    arithmetic(b, rng)
    conversions(b, rng)
    capitals(b)
    antonyms(b)
    translations(b)
    string_ops(b, rng)
    sorting(b, rng)
    primes(b, rng)
    python_outputs(b)
    definitions(b)
    rng.shuffle(b.records)
    return b.records


def main() -> int:
    records = build()
    body = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in records)
    OUT.write_text("[\n" + body + "\n]\n", encoding="utf-8")
    print(f"wrote {len(records)} records to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
