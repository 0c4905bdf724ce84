from __future__ import annotations


def test_a_later_site_build_compiles_no_template_again():
    from jobs.quality.docs_views import IndexPageView, PageView

    PageView().env.get_template("page.j2")
    IndexPageView().env.get_template("index_page.j2")
    later = PageView()

    def compile_again(*args, **kwargs):
        raise AssertionError("template compiled again")

    later.env.compile = compile_again
    assert later.env.get_template("page.j2").render is not None


def test_gx_hands_the_views_its_custom_styles_folder(tmp_path):
    from great_expectations.data_context.util import instantiate_class_from_config

    view = instantiate_class_from_config(
        config={"module_name": "jobs.quality.docs_views", "class_name": "PageView"},
        runtime_environment={
            "custom_styles_directory": str(tmp_path),
            "custom_views_directory": None,
        },
        config_defaults={},
    )

    assert view.custom_styles_directory == str(tmp_path)
