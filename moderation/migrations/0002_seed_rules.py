"""The community guidelines every finding and staff decision names (English and Japanese).
The moderation issue adds examples and consequences; staff may edit the texts in the admin."""

from django.db import migrations

# code, title, title_ja, explanation, explanation_ja
RULES = [
    (
        "privacy",
        "Privacy",
        "プライバシー",
        "Do not share personal data: addresses, locations hidden in photos, documents, or "
        "anything that identifies a private person.",
        "住所、写真に含まれる位置情報、書類など、個人を特定できる情報を共有しないでください。",
    ),
    (
        "misinformation",
        "Misinformation",
        "誤情報",
        "Do not pass generated images off as real photographs or real events.",
        "生成画像を実在の写真や実際の出来事として偽らないでください。",
    ),
    (
        "fairness",
        "Fairness and harassment",
        "公平性とハラスメント",
        "No content that demeans people for who they are, and no harassment of other members.",
        "属性を理由に人をおとしめる内容や、他のメンバーへの嫌がらせは禁止です。",
    ),
    (
        "copyright-license",
        "Copyright and licenses",
        "著作権とライセンス",
        "Share only what you have the right to share, under a license that respects the "
        "licenses of the models it was made from, and credit them where they ask for it.",
        "共有する権利のあるものだけを、元になったモデルのライセンスを守るライセンスで共有し、"
        "求められている場合はクレジットを記載してください。",
    ),
    (
        "real-person-likeness",
        "Real-person likeness",
        "実在人物の肖像",
        "Do not depict real people who have asked not to be depicted, and never depict a real "
        "person in sexual content.",
        "描写しないよう求めた実在の人物を描写しないでください。実在の人物を性的に描写することは"
        "一切禁止です。",
    ),
    (
        "minors",
        "Minors",
        "未成年者",
        "No sexual or suggestive content involving minors or people who look like minors, "
        "ever. Such content is removed and reported.",
        "未成年者、または未成年に見える人物を含む性的・扇情的な内容は一切禁止です。削除のうえ通報します。",
    ),
    (
        "sexual-content",
        "Sexual content levels",
        "性的表現のレーティング",
        "Rate what you upload (PG, PG-13, R, X, XXX). Content above a visitor's chosen level is "
        "never shown to them; misrated uploads are corrected.",
        "アップロードするものにレーティング（PG、PG-13、R、X、XXX）を付けてください。"
        "閲覧者が選んだレベルを超える内容は表示されません。誤ったレーティングは修正されます。",
    ),
    (
        "malware",
        "Malware and unsafe files",
        "マルウェアと危険なファイル",
        "No files that run code when loaded. Pickle-based files are scanned; unsafe ones are "
        "quarantined and never downloadable.",
        "読み込み時にコードを実行するファイルは禁止です。pickle 形式のファイルは検査され、"
        "危険なものは隔離されダウンロードできません。",
    ),
    (
        "spam",
        "Spam",
        "スパム",
        "No advertising, duplicate uploads or misleading titles and tags.",
        "宣伝、重複アップロード、誤解を招くタイトルやタグは禁止です。",
    ),
]


def seed(apps, schema_editor):
    Rule = apps.get_model("moderation", "Rule")
    for position, (code, title, title_ja, explanation, explanation_ja) in enumerate(RULES):
        Rule.objects.update_or_create(
            code=code,
            defaults=dict(
                title=title,
                title_ja=title_ja,
                explanation=explanation,
                explanation_ja=explanation_ja,
                position=position,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_checks")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
