"""Hand labels of glasses on the calib/ portraits (../shared/fixtures/calib, not _groups), by the visage
developer who wrote the glasses method, read by eye from contact sheets of the largest face of each photo.
They give bench/eval_attributes.py an outside check of the glasses method on sharper, larger news photos
(LFW-like, 250 x 250) than CelebA's 89 x 109 crops; nothing is tuned on them.

``WEARS_GLASSES``: the person wears glasses (clear or tinted; sunglasses included, as CelebA's label does).
``UNSURE``: left out of every count (no clear face in the crop, or glasses not decidable). Every other calib
portrait counts as bare.
"""

from __future__ import annotations

WEARS_GLASSES: frozenset[str] = frozenset({
    "calib/Alvaro_Silva_Calderon/Alvaro_Silva_Calderon_0001.jpg",
    "calib/Alvaro_Silva_Calderon/Alvaro_Silva_Calderon_0002.jpg",
    "calib/Alvaro_Silva_Calderon/Alvaro_Silva_Calderon_0003.jpg",
    "calib/Alvaro_Silva_Calderon/Alvaro_Silva_Calderon_0004.jpg",
    "calib/Bill_Gates/Bill_Gates_0002.jpg",
    "calib/Bill_Gates/Bill_Gates_0008.jpg",
    "calib/Bill_Gates/Bill_Gates_0012.jpg",
    "calib/Bill_Gates/Bill_Gates_0013.jpg",
    "calib/Bill_Gates/Bill_Gates_0014.jpg",
    "calib/Bill_Gates/Bill_Gates_0015.jpg",
    "calib/Elton_John/Elton_John_0001.jpg",
    "calib/Elton_John/Elton_John_0002.jpg",
    "calib/Elton_John/Elton_John_0003.jpg",
    "calib/Elton_John/Elton_John_0004.jpg",
    "calib/Elton_John/Elton_John_0006.jpg",
    "calib/Elton_John/Elton_John_0007.jpg",
    "calib/Francis_George/Francis_George_0001.jpg",
    "calib/Francis_George/Francis_George_0002.jpg",
    "calib/Hilmi_Ozkok/Hilmi_Ozkok_0001.jpg",
    "calib/Hilmi_Ozkok/Hilmi_Ozkok_0002.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0001.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0009.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0010.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0013.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0015.jpg",
    "calib/John_Bolton/John_Bolton_0003.jpg",
    "calib/John_Bolton/John_Bolton_0008.jpg",
    "calib/John_Bolton/John_Bolton_0009.jpg",
    "calib/John_Bolton/John_Bolton_0011.jpg",
    "calib/John_Bolton/John_Bolton_0012.jpg",
    "calib/John_Bolton/John_Bolton_0017.jpg",
    "calib/Juan_Pablo_Montoya/Juan_Pablo_Montoya_0007.jpg",
    "calib/Keanu_Reeves/Keanu_Reeves_0005.jpg",
    "calib/Keanu_Reeves/Keanu_Reeves_0007.jpg",
    "calib/Narendra_Modi/Narendra_Modi_0001.jpg",
    "calib/Roger_Moore/Roger_Moore_0001.jpg",
    "calib/Roger_Moore/Roger_Moore_0002.jpg",
    "calib/Roger_Moore/Roger_Moore_0003.jpg",
    "calib/Roger_Moore/Roger_Moore_0004.jpg",
    "calib/Roger_Moore/Roger_Moore_0005.jpg",
    "calib/Rupert_Murdoch/Rupert_Murdoch_0001.jpg",
    "calib/Rupert_Murdoch/Rupert_Murdoch_0002.jpg",
})

UNSURE: frozenset[str] = frozenset({
    "calib/Bill_Gates/Visit_of_Bill_Gates,_Chairman_of_Breakthrough_Energy_Ventures,_to_the_European_Commission_5_(cropped).jpg",
    "calib/Dwayne_Johnson/Dwayne_The_Rock_Johnson_2009_portrait.jpg",
    "calib/Hu_Jintao/Hu_Jintao_0007.jpg",
})
