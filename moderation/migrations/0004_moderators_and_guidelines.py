"""The moderators group, and the examples and consequences of each guideline (en + ja)."""

from django.db import migrations

MODERATORS = "moderators"


def create_moderators_group(apps, schema_editor):
    # Members work the moderation queue; staff add people to it in the admin.
    apps.get_model("auth", "Group").objects.get_or_create(name=MODERATORS)


def remove_moderators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MODERATORS).delete()


# Said after every consequence: each moderator decision names its rule and reason to the owner.
APPEAL = "You are told which rule applies and why, and you can appeal each decision once."
APPEAL_JA = (
    "どのルールに基づく判断か、その理由が通知され、判断ごとに一度だけ異議を申し立てられます。"
)

# code -> (examples, examples_ja, consequence, consequence_ja). The consequences say only what
# the checks (moderation/pipeline.py) and moderators really do; staff may edit them in the admin.
GUIDELINES = {
    "privacy": (
        [
            "A photo of someone's house with its street address in the description",
            "A sample image showing an ID card, passport, bank card or letter with a real name on it",
            "A private person's name, phone number, email or social media account in a title, tag or prompt",
            "A screenshot of a private chat or email",
        ],
        [
            "説明文に住所を添えた、誰かの自宅の写真",
            "実名入りの身分証、パスポート、銀行カード、手紙が写ったサンプル画像",
            "タイトル、タグ、プロンプトに書かれた一般の人の名前、電話番号、メールアドレス、SNS アカウント",
            "非公開のチャットやメールのスクリーンショット",
        ],
        "Moderators review reports of personal data and can ask you to remove it, unpublish the "
        "version, or block it. " + APPEAL,
        "個人情報に関する通報はモデレーターが確認し、削除の依頼、バージョンの非公開化、"
        "またはブロックを行います。" + APPEAL_JA,
    ),
    "misinformation": (
        [
            "A generated picture of a politician at an event that never happened, presented as a news photo",
            "A generated “leaked photo” of a disaster, crime or accident",
            "A description claiming that generated samples are unedited photographs",
        ],
        [
            "実際には起きていない出来事に政治家がいる生成画像を、報道写真として示すこと",
            "災害、犯罪、事故の「流出写真」として示した生成画像",
            "生成したサンプル画像を、加工していない写真だと説明すること",
        ],
        "Every gallery image is labelled as AI-generated. Moderators review reports and can ask "
        "you to correct the title or description, unpublish the version, or block it. " + APPEAL,
        "ギャラリーの画像にはすべて「AI 生成」と表示されます。通報はモデレーターが確認し、"
        "タイトルや説明文の修正の依頼、バージョンの非公開化、またはブロックを行います。"
        + APPEAL_JA,
    ),
    "fairness": (
        [
            "A model or images made to mock people for their ethnicity, religion, gender, sexuality or disability",
            "Slurs in a title, tag, description or prompt",
            "Images made to ridicule, threaten or impersonate another member",
        ],
        [
            "民族、宗教、性別、性的指向、障害を理由に人をあざけるためのモデルや画像",
            "タイトル、タグ、説明文、プロンプト中の差別的な言葉",
            "他のメンバーをあざけったり、脅したり、なりすましたりするための画像",
        ],
        "Moderators review reports and can ask you to change the text or images, unpublish the "
        "version, or block it. " + APPEAL,
        "通報はモデレーターが確認し、テキストや画像の変更の依頼、バージョンの非公開化、"
        "またはブロックを行います。" + APPEAL_JA,
    ),
    "copyright-license": (
        [
            "A fine-tune of a model whose license does not allow derivatives",
            "A merge of a non-commercial model, offered with commercial use allowed",
            "A derivative of a model that requires its license to be kept, shared under a different license",
            "A file whose metadata names a parent model you did not declare",
            "Someone else's model uploaded as your own",
        ],
        [
            "派生物を認めていないライセンスのモデルをファインチューンしたもの",
            "商用利用不可のモデルをマージしたものを、商用利用可として公開すること",
            "ライセンスの継承を求めるモデルの派生物を、別のライセンスで公開すること",
            "申告していない親モデルの名前がメタデータに書かれたファイル",
            "他人のモデルを自分のものとしてアップロードすること",
        ],
        "Every version's license and parent models are checked when it is uploaded. A version "
        "made from a model that does not allow derivatives is blocked. Other conflicts (more "
        "commercial use than a parent allows, a license a parent does not permit, missing use "
        "restrictions, an undeclared parent) hold the version for staff review. Credits that a "
        "parent's terms require are shown on the version page automatically. Moderators can "
        "approve, request changes, unpublish or block. " + APPEAL,
        "アップロード時に、各バージョンのライセンスと親モデルを検査します。派生物を認めていない"
        "モデルから作られたバージョンはブロックされます。そのほかの不整合（親モデルが認める以上の"
        "商用利用、親モデルが認めないライセンス、利用制限の欠落、申告されていない親モデル）があると、"
        "バージョンはスタッフの確認まで保留されます。親モデルの規約で求められるクレジットは、"
        "バージョンのページに自動で表示されます。モデレーターは承認、変更の依頼、非公開化、"
        "ブロックを行えます。" + APPEAL_JA,
    ),
    "real-person-likeness": (
        [
            "A sample image with a face that matches someone who asked not to be depicted",
            "A title, description or prompt that names such a person",
            "Any nude or sexual image of a real person, famous or not",
        ],
        [
            "描写しないよう求めた人物と一致する顔が写ったサンプル画像",
            "そのような人物の名前を含むタイトル、説明文、プロンプト",
            "実在の人物の裸や性的な画像（有名人かどうかを問いません）",
        ],
        "Faces in sample images, and names in the title, description and prompts, are compared "
        "with the people who asked not to be depicted. A match holds the version for staff; a "
        "match together with content rated R or higher blocks it. Moderators can approve, "
        "request changes, unpublish or block. " + APPEAL,
        "サンプル画像の顔と、タイトル・説明文・プロンプト中の名前を、描写しないよう求めた人物と"
        "照合します。一致するとバージョンはスタッフの確認まで保留され、R 以上のレーティングの内容と"
        "一緒であればブロックされます。モデレーターは承認、変更の依頼、非公開化、ブロックを"
        "行えます。" + APPEAL_JA,
    ),
    "minors": (
        [
            "Any nude or sexual image of a child or teenager",
            "An image rated R or higher whose prompt mentions children or school-age characters",
            "Sexual content with characters drawn or described to look like children, whatever age they are said to be",
            "A model made to produce sexual images of minors",
        ],
        [
            "子どもや 10 代の若者の裸や性的な画像",
            "R 以上のレーティングで、プロンプトに子どもや学齢期のキャラクターが含まれる画像",
            "設定上の年齢にかかわらず、子どもに見えるように描かれた、または説明されたキャラクターの性的な内容",
            "未成年者の性的な画像を生成するためのモデル",
        ],
        "An image rated R or higher whose prompt mentions minors blocks the version at once: it "
        "is never published, and it goes to the top of the staff queue, ahead of everything "
        "else. Staff remove such content and report it. " + APPEAL,
        "R 以上のレーティングの画像のプロンプトに未成年者が含まれる場合、そのバージョンは直ちに"
        "ブロックされ、公開されることはありません。スタッフのキューの最優先に置かれ、ほかの"
        "すべてより先に対応されます。スタッフはこうした内容を削除し、通報します。" + APPEAL_JA,
    ),
    "sexual-content": (
        [
            "Nude images on a model rated PG",
            "An explicit prompt on an image that looks harmless (the rating is the higher of picture and prompt)",
            "Describing an X-rated model as safe for work",
        ],
        [
            "PG と指定したモデルに裸の画像を載せること",
            "見た目は穏当な画像に露骨なプロンプトを付けること（レーティングは画像とプロンプトの高いほうになります）",
            "X 指定のモデルを「職場でも安全」と説明すること",
        ],
        "Every sample image is rated PG, PG-13, R, X or XXX from the picture and its prompt, and "
        "is shown only to people whose browsing level allows that rating; visitors who are not "
        "signed in see PG only. If you rated a version below R and its images are rated R or "
        "higher, the rating is corrected and you are told. An image that cannot be checked holds "
        "the version for staff. Moderators can approve with a different rating, request changes, "
        "unpublish or block. " + APPEAL,
        "サンプル画像はすべて、画像とプロンプトから PG、PG-13、R、X、XXX のいずれかに評価され、"
        "そのレーティングを閲覧レベルで許可している人にだけ表示されます。ログインしていない訪問者には"
        "PG だけが表示されます。R 未満と指定したバージョンの画像が R 以上と評価された場合、"
        "レーティングは修正され、その旨が通知されます。検査できない画像があると、バージョンは"
        "スタッフの確認まで保留されます。モデレーターはレーティングを変更しての承認、変更の依頼、"
        "非公開化、ブロックを行えます。" + APPEAL_JA,
    ),
    "malware": (
        [
            "A .ckpt or .pt file (a pickle) that runs a command when it is loaded",
            "A pickle that imports os, subprocess, eval or exec",
            "A pickle that downloads and starts another program",
        ],
        [
            "読み込むとコマンドが実行される .ckpt や .pt（pickle）ファイル",
            "os、subprocess、eval、exec を読み込む pickle",
            "別のプログラムをダウンロードして起動する pickle",
        ],
        "Every model file is scanned. A pickle file that would run code when loaded is "
        "quarantined and can never be downloaded, by anyone; the version is blocked and queued "
        "for staff. A file that could not be scanned holds the version for staff. Share weights "
        "as .safetensors, which cannot run code. " + APPEAL,
        "モデルファイルはすべて検査されます。読み込み時にコードを実行する pickle ファイルは隔離され、"
        "誰もダウンロードできなくなります。バージョンはブロックされ、スタッフのキューに入ります。"
        "検査できなかったファイルがあると、バージョンはスタッフの確認まで保留されます。"
        "コードを実行できない .safetensors 形式で共有してください。" + APPEAL_JA,
    ),
    "spam": (
        [
            "The same model uploaded again under another name",
            "A title, description or image that advertises a product, service or another site",
            "Tags that have nothing to do with the model, added to show up in more searches",
            "A title that claims a different base model or model type than the file really is",
        ],
        [
            "同じモデルを別の名前で再アップロードすること",
            "商品、サービス、ほかのサイトを宣伝するタイトル、説明文、画像",
            "検索で目立たせるために付けた、モデルと無関係なタグ",
            "実際のファイルとは異なるベースモデルや種類を名乗るタイトル",
        ],
        "Moderators review reports and can ask you to fix titles and tags, unpublish duplicates, "
        "or block the version. " + APPEAL,
        "通報はモデレーターが確認し、タイトルやタグの修正の依頼、重複の非公開化、"
        "またはバージョンのブロックを行います。" + APPEAL_JA,
    ),
}


def fill_guidelines(apps, schema_editor):
    Rule = apps.get_model("moderation", "Rule")
    for code, (examples, examples_ja, consequence, consequence_ja) in GUIDELINES.items():
        # Filtering by code skips a rule staff have deleted instead of recreating it.
        Rule.objects.filter(code=code).update(
            examples="\n".join(examples),
            examples_ja="\n".join(examples_ja),
            consequence=consequence,
            consequence_ja=consequence_ja,
        )


def clear_guidelines(apps, schema_editor):
    Rule = apps.get_model("moderation", "Rule")
    Rule.objects.filter(code__in=GUIDELINES).update(
        examples="", examples_ja="", consequence="", consequence_ja=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("moderation", "0003_queue_reports_appeals_takedowns"),
    ]

    operations = [
        migrations.RunPython(create_moderators_group, remove_moderators_group),
        migrations.RunPython(fill_guidelines, clear_guidelines),
    ]
