"""WXR round trips through real WordPress sites: what a move by WXR keeps, aspect by aspect.

Site A is the session's WordPress with the theme-unit-test corpus. WordPress's own round trip
exports A with export_wp() (Tools → Export, all content), imports the file into a fresh, empty
WordPress B with the official WordPress Importer (attachments fetched from A), harvests A and B
signed in, and compares the two archives item by item (wp_compare). It is the bar for any other WXR
file: wparchive's own export of A's archive, imported the same way, should lose nothing more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from round_trip import REPORTS, RoundTrip
from wp_compare import Comparison, summarize
from wparchive.cli import cli

pytestmark = pytest.mark.integration

# What WordPress's own round trip does not keep, measured on the theme-unit-test corpus (WordPress
# 6.1, WordPress Importer 0.9.5): aspect -> item -> why. Every other aspect comes through whole.
WORDPRESS_LOSES = {
    "content text": {
        "page privacy-policy": "the text names the site's address, which stays the old site's: the importer "
                               "rewrites URLs in content only from WordPress 6.7 on",
        "post block-category-common": "audio and video whose URL was the attachment's guid now point at the "
                                      "imported file (the importer maps guids to new files), and render as a "
                                      "player instead of a link",
        "post block-cover": "as block-category-common: a video's URL mapped to the imported file",
        "post media-category-blocks": "as block-category-common: a video's URL mapped to the imported file",
        "post blocks-widgets": "the tag cloud shows the 45 most used tags; which of the tags of equal count "
                               "make it depends on term ids, which the import renumbers",
        "post widgets-block-category": "as blocks-widgets: a tag cloud",
        "post theme-block-category": "the Site Title block shows the new site's title: the importer takes no "
                                     "site settings from the file (the WXR's channel title included)",
        "post post-format-gallery-tiled": "[gallery orderby=\"rand\"] shuffles on every request: no loss, but "
                                          "never equal twice",
    },
    "excerpts": {
        "page privacy-policy": "as its content: the old site's address",
    },
    # The raw block markup (content.raw, read signed in): the importer rewrites the URLs of the
    # attachments it fetched to the new files, in every item that shows them.
    "block markup": {
        **{item: "the URLs of images, audio and video are the imported files' now (the importer's "
                 "backfill_attachment_urls)" for item in (
            "page clearing-floats", "page page-image-alignment", "post block-category-common", "post block-cover",
            "post block-gallery", "post block-image", "post blocks-layout-elements", "post column-blocks",
            "post markup-image-alignment", "post media-category-blocks", "post post-format-audio",
            "post post-format-image", "post post-format-image-caption", "post post-format-image-linked")},
        "page privacy-policy": "as its content: the old site's address",
        "page sample-page": "it links to the old site's dashboard by its address",
    },
}


def known_loss(aspect: str, item: str) -> bool:
    """Whether WordPress's own round trip loses this aspect of this item too (WORDPRESS_LOSES)."""
    return item in WORDPRESS_LOSES.get(aspect, {})


def test_wordpress_own_round_trip_keeps_items_terms_users_and_comments(
        round_trip: RoundTrip, wordpress_round_trip: Comparison) -> None:
    comparison = wordpress_round_trip
    REPORTS["WXR round trip: WordPress export_wp() → WordPress Importer"] = (
        comparison.markdown() + "\n" + summarize(comparison))
    (imported,) = round_trip.imports.values()
    assert imported.failed == [], imported.messages
    assert comparison.only_in_b == []
    table = {name: (equal, total) for name, equal, total in comparison.table()}
    assert table["items"][1] > 100 and table["terms"][1] > 150 and table["comments"][1] > 20
    assert table["users"][1] >= 3 and table["menu order"][1] > 10 and table["threading"][1] > 5
    assert table["block markup"][1] > 50  # harvested signed in, the archive holds content.raw
    for name, (equal, total) in table.items():
        if name not in WORDPRESS_LOSES:
            assert equal == total, (name, comparison.aspects[name].differences[:5])


def test_wordpress_own_round_trip_loses_only_what_is_known(wordpress_round_trip: Comparison) -> None:
    unexpected = [d for d in wordpress_round_trip.differences() if not known_loss(d.aspect, d.item)]
    assert unexpected == []
    content = wordpress_round_trip.aspects["content text"]
    assert content.equal >= content.total - len(WORDPRESS_LOSES["content text"]) and content.total > 75


def wparchive_wxr(archive: Path, out: Path, *options: str) -> list[Path]:
    """wparchive's own WXR export of an archive, by the CLI: the files it wrote, in order."""
    result = CliRunner().invoke(cli, ["export", str(out), "--db", str(archive), "--format", "wxr", *options])
    assert result.exit_code == 0, result.output
    return [Path(name) for name in result.stderr.rsplit(" to ", 1)[1].strip().split(", ")]


# ─── Where wparchive's own WXR plugs in ───────────────────────────────────────────────────────────
# round_trip(wxr_file) -> Comparison imports any WXR file into a fresh WordPress and compares it
# with A; wordpress_round_trip is WordPress's own, the bar. Comparison.losses_beyond(baseline)
# lists the differences the baseline does not have.
def test_wparchive_wxr_loses_nothing_more_than_wordpress(
        round_trip: RoundTrip, wordpress_round_trip: Comparison, tmp_path: Path) -> None:
    (wxr,) = wparchive_wxr(round_trip.source_db_path, tmp_path / "wparchive.xml")
    comparison = round_trip(wxr)
    assert round_trip.imports[wxr].failed == []
    REPORTS["WXR round trip: wparchive export --format wxr → WordPress Importer"] = (
        comparison.markdown() + "\n" + summarize(comparison))
    losses = [d for d in comparison.losses_beyond(wordpress_round_trip) if not known_loss(d.aspect, d.item)]
    assert losses == []


def test_a_split_wparchive_wxr_imported_file_by_file_loses_nothing_more(
        round_trip: RoundTrip, wordpress_round_trip: Comparison, tmp_path: Path) -> None:
    # Each file is its own import: a page meets its parent, a post its featured image, only there.
    parts = wparchive_wxr(round_trip.source_db_path, tmp_path / "split.xml", "--max-mb", "0.25")
    assert len(parts) >= 3 and parts[0].name == "split-001.xml"
    comparison = round_trip(*parts)
    failed = [f for part in parts for f in round_trip.imports[part].failed]
    # what a file repeats for its items (a parent, a featured image) the importer finds made: only looked up
    assert [f for f in failed if not f.endswith("already exists.")] == [] and len(failed) < 20
    REPORTS[f"WXR round trip: wparchive export --format wxr split in {len(parts)} files"] = summarize(comparison)
    losses = [d for d in comparison.losses_beyond(wordpress_round_trip) if not known_loss(d.aspect, d.item)]
    assert losses == []
