"""The bundled sample site: a small community-garden blog with the variety real sites have.

Entities, Unicode, nested categories, tags, threaded comments, images with captions, internal
and external links, a password-protected post, a draft, and nested pages.
"""

from __future__ import annotations

from typing import Any

from .site import CommentItem, Item, Site, TermItem, UserItem, tiny_png

UP = "/wp-content/uploads/2024"

CATEGORIES = [
    TermItem(2, "category", "Growing", description="Seeds, soil and the work of the season."),
    TermItem(3, "category", "Vegetables", parent=2),
    TermItem(4, "category", "Fruit", parent=2),
    TermItem(5, "category", "Community", description="People, meetings &amp; events."),
    TermItem(6, "category", "Recipes"),
    TermItem(7, "category", "History", description="The garden&#8217;s story since 1921."),
    TermItem(1, "category", "Uncategorized"),
]
TAGS = [
    TermItem(20, "post_tag", "compost"), TermItem(21, "post_tag", "tomatoes"),
    TermItem(22, "post_tag", "seed swap"), TermItem(23, "post_tag", "volunteers"),
    TermItem(24, "post_tag", "bees"), TermItem(25, "post_tag", "winter"),
    TermItem(26, "post_tag", "soup"), TermItem(27, "post_tag", "archives"),
    TermItem(28, "post_tag", "café"), TermItem(29, "post_tag", "rain"),
]
USERS = [
    UserItem(1, "Margit Okafor", "margit", "Founder of the plot rota and keeper of the shed key."),
    UserItem(2, "Tomás Ferreira", "tomas", "Grows too many chillies.", "https://tomas.example.net"),
    UserItem(3, "Hana Sato", "hana", "Writes about the garden&#8217;s history."),
    UserItem(4, "Nobody Yet", "nobody", "Has not published anything, so the API does not list them."),
]

POSTS: list[tuple[Any, ...]] = [
    ("Welcome to the Allotment Almanac", "2023-03-01T09:00:00", 1, [5], [23],
     "<p>This is the blog of the Elm Street community garden: forty-two plots, one shed, and a great many "
     "opinions about compost.</p>\n<p>Read <a href=\"/about/\">about us</a> or jump to the "
     "<a href=\"/2023/03/the-compost-question/\">compost question</a>.</p>"),
    ("The compost question", "2023-03-08T18:30:00", 1, [2], [20],
     "<p>Hot or cold? We tried both. Hot composting needs turning every few days; cold composting needs "
     "patience &amp; a second bin.</p>\n<ul>\n<li>Greens: grass clippings, peelings</li>\n"
     "<li>Browns: cardboard, dry leaves</li>\n<li>Never: meat, dairy, glossy paper</li>\n</ul>\n"
     "<p>See the <a href=\"https://en.wikipedia.org/wiki/Compost\">Wikipedia article on compost</a>.</p>"),
    ("Tomatoes: twelve varieties, one summer", "2023-04-12T07:15:00", 2, [3], [21],
     "<p>We grew twelve varieties side by side. Here is how they did.</p>\n"
     "<table>\n<thead><tr><th>Variety</th><th>Yield (kg)</th><th>Flavour</th></tr></thead>\n<tbody>\n"
     "<tr><td>Gardener&#8217;s Delight</td><td>6.2</td><td>sweet</td></tr>\n"
     "<tr><td>Black Krim</td><td>4.8</td><td>smoky</td></tr>\n"
     "<tr><td>Sungold</td><td>7.1</td><td>tropical</td></tr>\n</tbody>\n</table>\n"
     f"<figure class=\"wp-block-image size-large\"><img src=\"{UP}/04/tomatoes.jpg\" alt=\"Ripe tomatoes on the vine\" "
     "width=\"1024\" height=\"683\" class=\"wp-image-101\"/><figcaption>Sungold, late July.</figcaption></figure>"),
    ("Seed swap this Saturday", "2023-04-20T12:00:00", 1, [5], [22, 23],
     "<p>Bring your spare seeds to the shed at 10&nbsp;am. Label them &#8220;variety, year, grower&#8221;.</p>\n"
     "<p>Tea and <em>very</em> good cake provided.</p>"),
    ("A history of the garden, part one: 1921", "2023-05-02T10:00:00", 3, [7], [27],
     "<p>The land was given to the parish in 1921 &#8212; &#8220;for the growing of food and the "
     "improvement of neighbours&#8221;, as the deed says.</p>\n<blockquote><p>No plot shall be left "
     "untended for more than one season.</p><cite>Rule 4, 1921</cite></blockquote>"),
    ("A history of the garden, part two: the war years", "2023-05-16T10:00:00", 3, [7], [27],
     "<p>During the war every plot grew potatoes. The minutes of 1942 record a dispute over a marrow.</p>\n"
     "<p>Continued from <a href=\"/2023/05/a-history-of-the-garden-part-one-1921/\">part one</a>.</p>"),
    ("Bees on plot 17", "2023-06-03T06:45:00", 2, [2, 5], [24],
     "<p>A swarm settled in the hedge by plot 17. A beekeeper from the "
     "<a href=\"https://www.bbka.org.uk/\">British Beekeepers Association</a> collected it in a cardboard box.</p>\n"
     f"<img src=\"{UP}/06/swarm.jpg\" alt=\"A swarm of bees in a hedge\" width=\"800\" height=\"600\" />"),
    ("Strawberry jam with less sugar", "2023-06-25T16:00:00", 2, [4, 6], [],
     "<h2>Ingredients</h2>\n<ol>\n<li>1 kg strawberries</li>\n<li>400 g sugar</li>\n<li>Juice of a lemon</li>\n"
     "</ol>\n<h2>Method</h2>\n<p>Macerate overnight. Boil hard for 8 minutes; test on a cold plate.</p>"),
    ("Rain, at last", "2023-07-19T20:10:00", 1, [2], [29],
     "<p>31&nbsp;mm in an afternoon. The water butts are full and the paths are rivers.</p>"),
    ("Café afternoon raises £412", "2023-08-05T17:00:00", 1, [5], [28, 23],
     "<p>Thank you to everyone who baked. The café afternoon raised <strong>£412</strong> for a new "
     "polytunnel. Special thanks to Zoë, Björn and François.</p>"),
    ("Courgettes: what to do with twenty of them", "2023-08-21T11:00:00", 2, [3, 6], [26],
     "<p>Soup. Fritters. Cake. Give them to neighbours who have not yet learned to lock their doors.</p>\n"
     "<pre><code>courgettes = 20\nwhile courgettes:\n    courgettes -= 1  # give one away\n</code></pre>"),
    ("The apple tree by the gate", "2023-09-14T09:30:00", 3, [4, 7], [27],
     "<p>The old Bramley by the gate was planted in 1936. It still crops every other year.</p>\n"
     f"[caption id=\"attachment_102\" align=\"aligncenter\" width=\"640\"]<img src=\"{UP}/09/bramley.jpg\" "
     "alt=\"The Bramley apple tree\" width=\"640\" height=\"480\" class=\"size-large wp-image-102\" /> "
     "The Bramley in September.[/caption]"),
    ("Autumn work party", "2023-10-07T08:00:00", 1, [5], [23],
     "<p>Hedges, paths, the shed roof. Bring gloves. We start at nine and stop when the soup is ready.</p>"),
    ("Pumpkin soup", "2023-10-30T18:00:00", 2, [6], [26],
     "<p>Roast the pumpkin with garlic, blend with stock, finish with cream. Serves six.</p>"),
    ("Garlic goes in before the frost", "2023-11-04T10:00:00", 1, [3], [25],
     "<p>Plant cloves 15&nbsp;cm apart, pointy end up, a thumb deep.</p>"),
    ("Winter reading list", "2023-12-10T19:00:00", 3, [5], [25],
     "<p>Five books for the dark months:</p>\n<ul>\n<li><em>The Well-Tempered Garden</em></li>\n"
     "<li><em>Gardening Without Work</em></li>\n<li><em>Teaming with Microbes</em></li>\n"
     "<li><em>The Vegetable Garden</em> (Vilmorin-Andrieux, 1885)</li>\n<li><em>Plot 29</em></li>\n</ul>"),
    ("Members only: plot allocation 2024", "2024-01-05T09:00:00", 1, [5], [],
     "<p>The waiting list and the new allocations.</p>", "letmein"),
    ("Frost damage and what survived", "2024-01-22T12:00:00", 2, [2], [25],
     "<p>Minus nine on the 17th. The broad beans are fine; the artichokes are not.</p>"),
    ("Chitting potatoes", "2024-02-14T08:00:00", 1, [3], [],
     "<p>Egg boxes, a cool bright windowsill, four to six weeks. Rub off all but three shoots.</p>"),
    ("Notes from the AGM", "2024-03-03T20:00:00", 1, [5], [23],
     "<p>Minutes are <a href=\"https://example.org/minutes-2024.pdf\">here (PDF)</a>. Subscriptions stay at "
     "£25; the committee thanks Tomás for two years as treasurer.</p>"),
    ("Ελληνικά και 日本語: our international plot", "2024-03-20T10:00:00", 3, [5], [],
     "<p>Plot 8 grows horta (χόρτα) and shiso (紫蘇). Signs are in three scripts.</p>"),
    ("Slugs: a fair and balanced assessment", "2024-04-09T21:00:00", 2, [2], [],
     "<p>They are the worst. Beer traps work; copper tape mostly does not. "
     "Read the <a href=\"https://www.rhs.org.uk/biodiversity/slugs-and-snails\">RHS advice</a>.</p>"),
    ("Planting out, &#8220;after the last frost&#8221;", "2024-05-11T07:30:00", 1, [3], [21],
     "<p>The last frost date is a rumour. We plant out when the oak is in leaf.</p>"),
    ("Open day 2024", "2024-06-15T10:00:00", 1, [5], [28, 24],
     "<p>Tours every hour, honey from plot 17, and the café. "
     "Directions are on the <a href=\"/visit/\">visit page</a>.</p>"),
]

PAGES = [
    Item(50, "page", "About us", "<p>The Elm Street community garden has been growing food since 1921. "
         "We are run by volunteers; see <a href=\"/about/committee/\">the committee</a>.</p>",
         slug="about", date_gmt="2023-02-01T09:00:00", menu_order=1),
    Item(51, "page", "The committee", "<p>Chair: Margit Okafor. Treasurer: Tomás Ferreira. "
         "Historian: Hana Sato.</p>", slug="committee", parent=50, date_gmt="2023-02-01T09:05:00"),
    Item(52, "page", "Visit", "<p>Elm Street, behind the library. Open daylight hours; the gate code "
         "is on the noticeboard.</p>", slug="visit", date_gmt="2023-02-02T09:00:00", menu_order=2),
    Item(53, "page", "Rules", "<ol><li>Keep your plot tended.</li><li>No hosepipes in July &amp; "
         "August.</li><li>Close the gate.</li></ol>", slug="rules", parent=50, date_gmt="2023-02-03T09:00:00"),
    Item(54, "page", "Join the waiting list", "<p>Email the secretary at "
         "<a href=\"mailto:secretary@example.org\">secretary@example.org</a>.</p>", slug="join",
         date_gmt="2023-02-04T09:00:00", menu_order=3),
    Item(55, "page", "Draft: plot map", "<p>Not ready yet.</p>", status="draft", date_gmt="2023-02-05T09:00:00"),
]

MEDIA = [
    Item(101, "attachment", "Ripe tomatoes", file="2024/04/tomatoes.jpg", mime_type="image/jpeg",
         alt_text="Ripe tomatoes on the vine", caption="Sungold, late July.", width=1024, height=683,
         date_gmt="2023-04-12T07:00:00", parent=1003),
    Item(102, "attachment", "The Bramley", file="2024/09/bramley.jpg", mime_type="image/jpeg",
         alt_text="The Bramley apple tree", caption="The Bramley in September.", width=640, height=480,
         date_gmt="2023-09-14T09:00:00", parent=1012),
    Item(103, "attachment", "Swarm", file="2024/06/swarm.jpg", mime_type="image/jpeg",
         alt_text="A swarm of bees in a hedge", width=800, height=600, date_gmt="2023-06-03T06:30:00",
         parent=1007),
    Item(104, "attachment", "AGM minutes 2024", file="2024/03/minutes-2024.pdf", mime_type="application/pdf",
         date_gmt="2024-03-03T19:00:00"),
]

COMMENTS = [
    CommentItem(1, 1002, "Cold composting all the way. Patience is a virtue.", "Ada P."),
    CommentItem(2, 1002, "Patience is also how you get rats.", "Bill", parent=1),
    CommentItem(3, 1002, "We have had no rats in six years &#8212; keep the lid on.", "Margit Okafor",
                author=1, parent=2),
    CommentItem(4, 1003, "Black Krim every time.", "Chidi"),
    CommentItem(5, 1003, "Sungold for the children, who eat them before they reach the kitchen.", "Dora"),
    CommentItem(6, 1004, "I will bring runner beans (Scarlet Emperor, 2022).", "Eve"),
    CommentItem(7, 1007, "Were they honeybees or bumblebees?", "Fern"),
    CommentItem(8, 1007, "Honeybees &#8212; a prime swarm.", "Tomás Ferreira", author=2, parent=7),
    CommentItem(9, 1010, "The lemon drizzle was superb.", "Gus"),
    CommentItem(10, 1011, "Courgette cake is underrated.", "Hal"),
    CommentItem(11, 1011, "Courgette cake is correctly rated.", "Ivy", parent=10),
    CommentItem(12, 1011, "This thread is why I read this blog.", "Jo", parent=11),
    CommentItem(13, 1012, "My grandfather pruned that tree!", "Kamal"),
    CommentItem(14, 1014, "Add a little smoked paprika.", "Lena"),
    CommentItem(15, 1016, "Teaming with Microbes changed how I garden.", "Mo"),
    CommentItem(16, 1021, "Ευχαριστώ for the horta seeds!", "Niko"),
    CommentItem(17, 1022, "Beer traps: what beer?", "Olu"),
    CommentItem(18, 1022, "The cheapest. They are not fussy.", "Tomás Ferreira", author=2, parent=17),
    CommentItem(19, 1024, "See you there!", "Pat"),
    CommentItem(20, 1024, "Spam spam spam", "Spammer", status="spam"),
    CommentItem(21, 1017, "Counted by WordPress, but hidden: the post is password-protected.", "Quinn"),
    CommentItem(22, 1099, "Counted by WordPress, but hidden: the post is a draft.", "Rae"),
]


def sample_site() -> Site:
    """The bundled sample site, fresh each call."""
    items = []
    for n, entry in enumerate(POSTS, start=1):
        title, date, author, categories, tags, content = entry[:6]
        password = entry[6] if len(entry) > 6 else ""
        items.append(Item(
            1000 + n, "post", title, content, date_gmt=date, author=author, password=password,
            terms={"category": categories or [1], "post_tag": tags}, sticky=(n == 1),
        ))
    items.append(Item(1099, "post", "Draft: the shed roof", "<p>Unfinished.</p>", status="draft",
                      date_gmt="2024-06-20T10:00:00"))
    items.append(Item(1098, "post", "Scheduled: harvest festival", "<p>Coming soon.</p>", status="future",
                      date_gmt="2030-09-20T10:00:00"))
    files = {f"/wp-content/uploads/{m.file}": tiny_png(m.file) for m in MEDIA if m.mime_type.startswith("image/")}
    files["/wp-content/uploads/2024/03/minutes-2024.pdf"] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return Site(
        files=files,
        name="The Allotment Almanac",
        description="News &amp; notes from the Elm Street community garden",
        gmt_offset=1,
        timezone_string="",
        items=items + [Item(**vars(p)) for p in PAGES] + [Item(**vars(m)) for m in MEDIA],
        terms=[TermItem(**vars(t)) for t in CATEGORIES + TAGS],
        users=[UserItem(**vars(u)) for u in USERS],
        comments=[CommentItem(**vars(c)) for c in COMMENTS],
    )
